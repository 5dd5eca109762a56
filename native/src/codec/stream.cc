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

ParseStatus StreamReassembler::next(Packet& out) {
  if (failed_) return ParseStatus::Error;
  if (pos_ == buf_.size()) return ParseStatus::NeedMore;
  const ParseResult r = parseResponse(buf_.data() + pos_, buf_.size() - pos_, maxPayload_, out);
  switch (r.status) {
    case ParseStatus::Ok:
      pos_ += r.consumed;
      return ParseStatus::Ok;
    case ParseStatus::NeedMore:
      return ParseStatus::NeedMore;
    case ParseStatus::Error:
      failed_ = true;
      error_ = r.reason;
      buf_.clear();
      buf_.shrink_to_fit();
      pos_ = 0;
      return ParseStatus::Error;
  }
  return ParseStatus::Error;
}

}  // namespace diarkis
