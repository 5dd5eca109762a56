#include "rudp/fragment.h"

#include <algorithm>
#include <cstring>

namespace diarkis {
namespace rudp {

namespace {
void put16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xFF));
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
}  // namespace

bool isChunk(const uint8_t* data, size_t len) {
  return len >= sizeof(kFragMagic) && std::memcmp(data, kFragMagic, sizeof(kFragMagic)) == 0;
}

Fragmenter::Fragmenter(size_t fragmentSize) : fragmentSize_(std::max<size_t>(fragmentSize, 1)) {}

uint16_t Fragmenter::takeId() {
  const uint16_t id = nextId_;
  nextId_ = nextId_ == kMaxFragId ? 0 : static_cast<uint16_t>(nextId_ + 1);
  return id;
}

void Fragmenter::cut(const uint8_t* packet, size_t len, std::vector<Bytes>& out) {
  const size_t count = (len + fragmentSize_ - 1) / fragmentSize_;
  // Callers bound packets by maxPayload; an int16 count is the wire's hard limit.
  if (count == 0 || count > kMaxFragId) return;
  const uint16_t id = takeId();
  for (size_t i = 0; i < count; ++i) {
    const size_t off = i * fragmentSize_;
    const size_t n = std::min(fragmentSize_, len - off);
    Bytes chunk;
    chunk.reserve(kFragHeaderSize + n);
    chunk.insert(chunk.end(), kFragMagic, kFragMagic + sizeof(kFragMagic));
    put16(chunk, id);
    put16(chunk, static_cast<uint16_t>(i));
    put16(chunk, static_cast<uint16_t>(count));
    chunk.insert(chunk.end(), packet + off, packet + off + n);
    out.push_back(std::move(chunk));
  }
}

void Fragmenter::cutWrapped(const uint8_t* packet, size_t len, uint8_t ver, uint16_t cmd,
                            const uint8_t* sid, std::vector<Bytes>& out) {
  std::vector<Bytes> raw;
  cut(packet, len, raw);
  for (Bytes& chunk : raw) {
    Bytes payload;
    payload.reserve(wire::kSidSize + chunk.size());
    payload.insert(payload.end(), sid, sid + wire::kSidSize);
    payload.insert(payload.end(), chunk.begin(), chunk.end());
    Bytes wrapped;
    appendRequest(wrapped, ver, cmd, payload.data(), payload.size());
    out.push_back(std::move(wrapped));
  }
}

Reassembler::Reassembler(size_t maxPacket, size_t fragmentSize)
    : maxPacket_(maxPacket),
      fragmentSize_(std::max<size_t>(fragmentSize, 1)),
      maxCount_(static_cast<uint32_t>(
          std::min<size_t>((maxPacket + fragmentSize_ - 1) / fragmentSize_, kMaxFragId))) {}

Reassembler::Result Reassembler::reject(const char* why) {
  error_ = why;
  open_ = false;
  Bytes().swap(buf_);  // give the memory back, not only the size
  return Result::Rejected;
}

Reassembler::Result Reassembler::add(const uint8_t* chunk, size_t len, Bytes& out) {
  if (len < kFragHeaderSize || !isChunk(chunk, len)) return reject("not a chunk");
  const uint16_t id = get16(chunk + 4);
  const uint16_t index = get16(chunk + 6);
  const uint16_t count = get16(chunk + 8);
  const size_t n = len - kFragHeaderSize;
  // int16 fields: the top bit set means a negative value, never valid.
  if (id > kMaxFragId || index > kMaxFragId || count > kMaxFragId) return reject("negative field");
  if (count == 0 || count > maxCount_) return reject("count beyond the maximum payload");
  if (index >= count) return reject("index out of range");
  if (n == 0 || n > fragmentSize_) return reject("chunk size out of range");
  if (!open_) {
    if (index != 0) return reject("chunk does not start a message");
    open_ = true;
    id_ = id;
    count_ = count;
    next_ = 0;
  } else if (id != id_) {
    return reject("chunk of another id before the current message completed");
  } else if (count != count_) {
    return reject("count changed within a message");
  } else if (index != next_) {
    return reject("chunk out of order");
  }
  if (buf_.size() + n > maxPacket_) return reject("message beyond the maximum payload");
  // No reserve from the peer's count: memory follows the bytes actually received.
  buf_.insert(buf_.end(), chunk + kFragHeaderSize, chunk + len);
  if (++next_ < count_) return Result::Incomplete;
  open_ = false;
  out.clear();
  out.swap(buf_);
  return Result::Complete;
}

}  // namespace rudp
}  // namespace diarkis
