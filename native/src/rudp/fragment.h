// Fragments of large reliable command packets (PROTOCOL.md section 4, "Fragments"):
//   chunk = FF FE FD FC || id:int16 || index:int16 || count:int16 || bytes
// Ids count per connection and direction from 0 and wrap 32767 -> 0 (ours).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/errors.h"

namespace diarkis {
namespace rudp {

inline constexpr uint8_t kFragMagic[4] = {0xFF, 0xFE, 0xFD, 0xFC};
inline constexpr size_t kFragHeaderSize = 10;
inline constexpr size_t kDefaultFragmentSize = 1300;
inline constexpr uint16_t kMaxFragId = 32767;

// True when the bytes start with the chunk magic.
bool isChunk(const uint8_t* data, size_t len);

class Fragmenter {
 public:
  explicit Fragmenter(size_t fragmentSize = kDefaultFragmentSize);
  // True when `len` bytes must be cut (more than fragmentSize).
  bool needsCut(size_t len) const { return len > fragmentSize_; }
  // Server -> client style: each element of `out` is one raw chunk (a DAT body).
  void cut(const uint8_t* packet, size_t len, std::vector<Bytes>& out);
  // Client -> server style: each chunk wrapped as a request packet with the
  // same ver/cmd: request header || SID || chunk (the chunk is not sealed again).
  void cutWrapped(const uint8_t* packet, size_t len, uint8_t ver, uint16_t cmd, const uint8_t* sid,
                  std::vector<Bytes>& out);
  uint16_t nextId() const { return nextId_; }

 private:
  uint16_t takeId();
  size_t fragmentSize_;
  uint16_t nextId_ = 0;
};

// Reassembles one message at a time. The chunks of a message are consecutive DATs
// delivered in order (PROTOCOL.md section 4), so a chunk must continue the current
// message (same id and count, the next index) or, when none is open, start one at
// index 0. Anything else is a protocol error: Rejected, the message discarded, and
// error() says why; the session ends the connection on it (the reliable stream
// cannot be resynchronised). Memory is one message, bounded by maxPacket.
class Reassembler {
 public:
  enum class Result : uint8_t { Incomplete, Complete, Rejected };

  // maxPacket bounds one reassembled message. The count limit is
  // ceil(maxPacket / fragmentSize) (ours: the receiver assumes the peer cuts at
  // most fragmentSize bytes per chunk, as the protocol says).
  explicit Reassembler(size_t maxPacket, size_t fragmentSize = kDefaultFragmentSize);

  // `chunk` is a whole chunk (magic included). Complete: `out` holds the message.
  Result add(const uint8_t* chunk, size_t len, Bytes& out);
  size_t heldBytes() const { return buf_.size(); }
  size_t pending() const { return open_ ? 1 : 0; }
  uint32_t maxCount() const { return maxCount_; }
  // Why the last Rejected happened (a static string).
  const char* error() const { return error_; }

 private:
  Result reject(const char* why);

  size_t maxPacket_;
  size_t fragmentSize_;
  uint32_t maxCount_;
  bool open_ = false;
  uint16_t id_ = 0;
  uint16_t count_ = 0;
  uint16_t next_ = 0;  // the index the next chunk must have
  Bytes buf_;
  const char* error_ = "";
};

}  // namespace rudp
}  // namespace diarkis
