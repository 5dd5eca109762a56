// Command packet codec (PROTOCOL.md section 1) and TCP stream reassembly.
// Pure functions over bytes: no I/O, no clock, no allocation beyond the outputs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "diarkis/errors.h"

namespace diarkis {

using Bytes = std::vector<uint8_t>;

namespace wire {
inline constexpr uint8_t kMagic[4] = {0xFE, 0xBE, 0xDE, 0xEF};
inline constexpr size_t kRequestHeaderSize = 10;
inline constexpr size_t kResponseHeaderSize = 11;
inline constexpr uint32_t kMaxLength24 = 0xFFFFFF;
inline constexpr uint32_t kDefaultMaxPayload = 1u << 20;  // (ours) 1 MiB
inline constexpr size_t kSidSize = 16;

inline constexpr uint8_t kStatusOk = 1;
inline constexpr uint8_t kStatusBad = 4;
inline constexpr uint8_t kStatusErr = 5;
inline constexpr uint8_t kStatusPush = 0xFF;

inline constexpr uint8_t kVerBuiltin = 0;
inline constexpr uint16_t kCmdFin = 0;
inline constexpr uint16_t kCmdKeepAlive = 1;
inline constexpr uint16_t kCmdReconn = 2;
inline constexpr uint16_t kCmdPing = 3;
inline constexpr uint16_t kCmdClientKey = 4;
inline constexpr uint16_t kCmdNotification = 400;

// Node state byte in heartbeat/echo answers and the offline notice.
inline constexpr uint8_t kNodeOnline = 1;
inline constexpr uint8_t kNodeOffline = 2;
inline constexpr uint8_t kNodeTaken = 3;
}  // namespace wire

// A decoded packet. For a request `status` is 0 and `payload` is SID || secure(body);
// for a response/push `payload` is secure(body).
struct Packet {
  uint8_t ver = 0;
  uint16_t cmd = 0;
  uint8_t status = 0;
  Bytes payload;
};

// Append an encoded packet to `out`. `len` must be <= wire::kMaxLength24 (asserted by callers).
void appendRequest(Bytes& out, uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len);
void appendResponse(Bytes& out, uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload,
                     size_t len);

// A packet parsed where it lies: `payload` points into the parsed bytes, valid while they are.
struct PacketView {
  uint8_t ver = 0;
  uint16_t cmd = 0;
  uint8_t status = 0;
  const uint8_t* payload = nullptr;
  size_t len = 0;
};

enum class ParseStatus : uint8_t { Ok, NeedMore, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::NeedMore;
  size_t consumed = 0;                      // bytes of the packet when Ok
  DropReason reason = DropReason::Unexpected;  // when Error: BadMagic, TooLarge, BadStatus
};

// Parse one packet at the start of [data, data + len). NeedMore when the bytes so
// far are a valid prefix; Error as soon as the header is known to be bad
// (bad magic, length > maxPayload, response status not in {1,4,5,0xFF}).
ParseResult parseResponse(const uint8_t* data, size_t len, uint32_t maxPayload, Packet& out);
ParseResult parseRequest(const uint8_t* data, size_t len, uint32_t maxPayload, Packet& out);
// The same without copying the payload.
ParseResult parseResponse(const uint8_t* data, size_t len, uint32_t maxPayload, PacketView& out);

// Reassembles response/push packets from a TCP byte stream split anywhere.
// An error is sticky: a stream with a bad header cannot be resynchronised.
class StreamReassembler {
 public:
  explicit StreamReassembler(uint32_t maxPayload = wire::kDefaultMaxPayload);
  void feed(const uint8_t* data, size_t len);
  // Ok: `out` holds the next packet. NeedMore: nothing complete buffered. Error: see error().
  ParseStatus next(Packet& out);
  // Zero-copy reading of one read's bytes, without feed(): the next packet, parsed in `data`
  // itself while nothing is buffered (out.payload points there); only a packet split across
  // reads is completed in the buffer (then out.payload points into it). Consumes data/len.
  // `out` is valid until the next call. NeedMore once everything is consumed or buffered.
  ParseStatus next(const uint8_t*& data, size_t& len, PacketView& out);
  DropReason error() const { return error_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  ParseStatus nextBuffered(PacketView& out);
  ParseStatus failWith(DropReason reason);

  Bytes buf_;
  size_t pos_ = 0;
  uint32_t maxPayload_;
  bool failed_ = false;
  DropReason error_ = DropReason::Unexpected;
};

}  // namespace diarkis
