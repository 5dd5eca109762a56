// StreamReassembler: response/push packets out of a TCP byte stream split anywhere.
#include "diarkis/codec.h"

namespace diarkis {

namespace {
// Compact once the consumed prefix is at least this large and at least half the
// buffer, so memmove cost stays amortised O(1) per byte.
constexpr size_t kCompactMin = 64 * 1024;
}  // namespace

StreamReassembler::StreamReassembler(uint32_t maxPayload) : maxPayload_(maxPayload) {}

void StreamReassembler::feed(const uint8_t* data, size_t len) {
  // After an error nothing more is parsed; holding more bytes would only grow memory.
  if (failed_ || len == 0) return;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ >= kCompactMin && pos_ * 2 >= buf_.size()) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  buf_.insert(buf_.end(), data, data + len);
}

ParseStatus StreamReassembler::failWith(DropReason reason) {
  failed_ = true;
  error_ = reason;
  buf_.clear();
  buf_.shrink_to_fit();
  pos_ = 0;
  return ParseStatus::Error;
}

ParseStatus StreamReassembler::nextBuffered(PacketView& out) {
  if (failed_) return ParseStatus::Error;
  if (pos_ == buf_.size()) return ParseStatus::NeedMore;
  const ParseResult r = parseResponse(buf_.data() + pos_, buf_.size() - pos_, maxPayload_, out);
  if (r.status == ParseStatus::Ok) pos_ += r.consumed;
  if (r.status == ParseStatus::Error) return failWith(r.reason);
  return r.status;
}

ParseStatus StreamReassembler::next(Packet& out) {
  PacketView v;
  const ParseStatus st = nextBuffered(v);
  if (st == ParseStatus::Ok) {
    out.ver = v.ver;
    out.cmd = v.cmd;
    out.status = v.status;
    out.payload.assign(v.payload, v.payload + v.len);
  }
  return st;
}

ParseStatus StreamReassembler::next(const uint8_t*& data, size_t& len, PacketView& out) {
  if (failed_) return ParseStatus::Error;
  if (pos_ < buf_.size()) {
    // A packet split across reads: this read's bytes join it in the buffer (the rare case).
    feed(data, len);
    data += len;
    len = 0;
    return nextBuffered(out);
  }
  if (len == 0) return ParseStatus::NeedMore;
  const ParseResult r = parseResponse(data, len, maxPayload_, out);
  if (r.status == ParseStatus::Error) return failWith(r.reason);
  if (r.status == ParseStatus::NeedMore) {
    feed(data, len);  // the start of a packet the next read completes
    data += len;
    len = 0;
    return ParseStatus::NeedMore;
  }
  data += r.consumed;
  len -= r.consumed;
  return ParseStatus::Ok;
}

}  // namespace diarkis
