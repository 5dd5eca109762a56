// RUDP transport header (PROTOCOL.md section 4): seq uint24 LITTLE-endian || flag,
// ACK/RACK record lists, and 24-bit serial-number arithmetic. Pure functions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/errors.h"

namespace diarkis {
namespace rudp {

enum class Flag : uint8_t { Udp = 1, Syn = 2, Dat = 3, Ack = 4, Rdat = 5, Rack = 6, Fin = 7 };

inline constexpr size_t kHeaderSize = 4;
inline constexpr uint32_t kSeqMask = 0xFFFFFF;  // sequences wrap modulo 2^24
inline constexpr uint32_t kSeqHalf = 0x800000;
// Raw datagram from the server meaning "connection ended". Its flag byte (0x0D)
// is not a valid flag, so it can never be confused with a header.
inline constexpr uint8_t kTerminate[4] = {0x0D, 0x0E, 0x0A, 0x0D};
// ACK/RACK record sizes: client records carry the SID after the header.
inline constexpr size_t kClientRecordSize = kHeaderSize + wire::kSidSize;  // 20
inline constexpr size_t kServerRecordSize = kHeaderSize;                   // 4

struct Header {
  uint32_t seq = 0;
  Flag flag = Flag::Udp;
};

inline uint32_t seqAdd(uint32_t a, uint32_t n) { return (a + n) & kSeqMask; }
// Signed serial distance a - b in [-2^23, 2^23): positive when a is ahead of b
// by less than half the space (ours: serial-number comparison).
inline int32_t seqDiff(uint32_t a, uint32_t b) {
  const uint32_t d = (a - b) & kSeqMask;
  return d >= kSeqHalf ? static_cast<int32_t>(d) - static_cast<int32_t>(kSeqMask + 1)
                       : static_cast<int32_t>(d);
}
inline bool seqLess(uint32_t a, uint32_t b) { return seqDiff(a, b) < 0; }

void appendHeader(Bytes& out, uint32_t seq, Flag flag);
// Truncated when shorter than 4 bytes, UnknownFlag for a flag outside 1..7.
bool decodeHeader(const uint8_t* data, size_t len, Header& out, DropReason& reason);
bool isTerminate(const uint8_t* data, size_t len);

struct AckRecord {
  uint32_t seq = 0;
  bool rack = false;  // RACK (acknowledges an RDAT) rather than ACK
};

// One ACK/RACK record; `suffix` is the SID for client records, empty for the server's.
void appendAckRecord(Bytes& out, uint32_t seq, bool rack, const uint8_t* suffix, size_t suffixLen);
// Split a whole datagram into records of `recordSize` bytes (20 from a client,
// 4 from a server). Every record must be ACK or RACK; a trailing partial record
// fails (Truncated), a foreign flag fails (UnknownFlag). On failure `out` is
// left with the records before the bad one, and false is returned.
// `suffixes` (optional) receives the bytes after each header (client SIDs).
bool decodeAckRecords(const uint8_t* data, size_t len, size_t recordSize, std::vector<AckRecord>& out,
                      DropReason& reason, std::vector<Bytes>* suffixes = nullptr);

}  // namespace rudp
}  // namespace diarkis
