#include "rudp/datagram.h"

#include <cstring>

namespace diarkis {
namespace rudp {

void appendHeader(Bytes& out, uint32_t seq, Flag flag) {
  seq &= kSeqMask;
  out.push_back(static_cast<uint8_t>(seq & 0xFF));
  out.push_back(static_cast<uint8_t>((seq >> 8) & 0xFF));
  out.push_back(static_cast<uint8_t>((seq >> 16) & 0xFF));
  out.push_back(static_cast<uint8_t>(flag));
}

bool decodeHeader(const uint8_t* data, size_t len, Header& out, DropReason& reason) {
  if (len < kHeaderSize) {
    reason = DropReason::Truncated;
    return false;
  }
  const uint8_t f = data[3];
  if (f < static_cast<uint8_t>(Flag::Udp) || f > static_cast<uint8_t>(Flag::Fin)) {
    reason = DropReason::UnknownFlag;
    return false;
  }
  out.seq = static_cast<uint32_t>(data[0]) | (static_cast<uint32_t>(data[1]) << 8) |
            (static_cast<uint32_t>(data[2]) << 16);
  out.flag = static_cast<Flag>(f);
  return true;
}

bool isTerminate(const uint8_t* data, size_t len) {
  return len == sizeof(kTerminate) && std::memcmp(data, kTerminate, sizeof(kTerminate)) == 0;
}

void appendAckRecord(Bytes& out, uint32_t seq, bool rack, const uint8_t* suffix, size_t suffixLen) {
  appendHeader(out, seq, rack ? Flag::Rack : Flag::Ack);
  if (suffixLen > 0) out.insert(out.end(), suffix, suffix + suffixLen);
}

bool decodeAckRecords(const uint8_t* data, size_t len, size_t recordSize, std::vector<AckRecord>& out,
                      DropReason& reason, std::vector<Bytes>* suffixes) {
  if (recordSize < kHeaderSize || len == 0) {
    reason = DropReason::Truncated;
    return false;
  }
  for (size_t off = 0; off < len; off += recordSize) {
    if (len - off < recordSize) {
      reason = DropReason::Truncated;
      return false;
    }
    Header h;
    if (!decodeHeader(data + off, recordSize, h, reason)) return false;
    if (h.flag != Flag::Ack && h.flag != Flag::Rack) {
      reason = DropReason::UnknownFlag;
      return false;
    }
    out.push_back(AckRecord{h.seq, h.flag == Flag::Rack});
    if (suffixes) suffixes->emplace_back(data + off + kHeaderSize, data + off + recordSize);
  }
  return true;
}

}  // namespace rudp
}  // namespace diarkis
