// The receiving half of ReliableChannel (reliable.h): ACK/RACK records batched
// per flush, exactly-once in-order delivery, and an out-of-order buffer that is
// allocated when a gap appears and freed when it closes.
#include <algorithm>
#include <utility>

#include "rudp/reliable.h"

namespace diarkis {
namespace rudp {

void ReliableChannel::queueAck(uint32_t seq, bool rack) {
  const size_t rec = kHeaderSize + cfg_.ackSuffix.size();
  if (!acks_.empty() && acks_.size() + rec > cfg_.maxDatagramBody + kHeaderSize) emitAcks();
  if (acks_.empty()) ackSince_ = now_;
  appendAckRecord(acks_, seq, rack, cfg_.ackSuffix.data(), cfg_.ackSuffix.size());
}

void ReliableChannel::emitAcks() {
  if (acks_.empty()) return;
  const size_t rec = kHeaderSize + cfg_.ackSuffix.size();
  const size_t fresh = acks_.size() / rec;
  auto keyAt = [&](size_t i) {
    const uint8_t* r = acks_.data() + i * rec;
    const uint32_t seq = uint32_t{r[0]} | (uint32_t{r[1]} << 8) | (uint32_t{r[2]} << 16);
    return seq | (r[3] == static_cast<uint8_t>(Flag::Rack) ? 0x80000000u : 0u);
  };
  for (size_t k = 0; k < recentAckCount_; ++k) {
    if (acks_.size() + rec > cfg_.maxDatagramBody + kHeaderSize) break;
    const uint32_t key = recentAcks_[(recentAckNext_ + kRepeatAcks - 1 - k) % kRepeatAcks];  // newest first
    bool present = false;
    for (size_t i = 0; i < fresh && !present; ++i) present = keyAt(i) == key;
    if (!present) appendAckRecord(acks_, key & kSeqMask, (key >> 31) != 0, cfg_.ackSuffix.data(), cfg_.ackSuffix.size());
  }
  for (size_t i = fresh > kRepeatAcks ? fresh - kRepeatAcks : 0; i < fresh; ++i) {
    recentAcks_[recentAckNext_] = keyAt(i);
    recentAckNext_ = (recentAckNext_ + 1) % kRepeatAcks;
    recentAckCount_ = std::min(recentAckCount_ + 1, kRepeatAcks);
  }
  out_.push_back(std::move(acks_));
  acks_.clear();
  ackSince_ = kNoDeadline;
  ackSentAt_ = now_;
}

bool ReliableChannel::receive(uint32_t seq, bool retransmission, const uint8_t* body, size_t len, double now,
                              bool inPlace) {
  now_ = now;
  if (!started_) {
    stats_.drop(DropReason::Unexpected);
    return false;
  }
  const int32_t d = seqDiff(seq, recvNext_);
  if (d < 0) {  // delivered already: the peer lost our acknowledgement
    queueAck(seq, retransmission);
    stats_.drop(DropReason::Duplicate);
    return false;
  }
  if (refuseNew_) {  // the receiver's application is behind: the peer resends it later
    stats_.add(&Stats::receiveDeferred);
    return false;
  }
  // Beyond the window: not acknowledged, so the peer resends it later.
  if (static_cast<size_t>(d) >= cfg_.recvWindow) {
    stats_.drop(DropReason::OutOfWindow);
    return false;
  }
  queueAck(seq, retransmission);
  peerSpoke_ = true;
  if (d == 0 && oooCount_ == 0) {  // the common case: no buffer (and in place, no copy)
    recvNext_ = seqAdd(recvNext_, 1);
    if (inPlace && delivered_.empty()) return true;
    delivered_.emplace_back(body, body + len);
    return false;
  }
  if (!ooo_) {
    ooo_.reset(new Slot[cfg_.recvWindow]);
    oooHead_ = 0;
  }
  const size_t slot = (oooHead_ + static_cast<size_t>(d)) % cfg_.recvWindow;
  if (ooo_[slot].present) {
    stats_.drop(DropReason::Duplicate);
    return false;
  }
  ooo_[slot].body.assign(body, body + len);
  ooo_[slot].present = true;
  ++oooCount_;
  while (ooo_[oooHead_].present) {
    delivered_.push_back(std::move(ooo_[oooHead_].body));
    ooo_[oooHead_] = Slot();
    --oooCount_;
    oooHead_ = (oooHead_ + 1) % cfg_.recvWindow;
    recvNext_ = seqAdd(recvNext_, 1);
  }
  if (oooCount_ == 0) ooo_.reset();  // the gap closed
  return false;
}

void ReliableChannel::takeDelivered(std::vector<Bytes>& out) {
  for (Bytes& b : delivered_) out.push_back(std::move(b));
  delivered_.clear();
}

}  // namespace rudp
}  // namespace diarkis
