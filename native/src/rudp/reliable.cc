#include "rudp/reliable.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace diarkis {
namespace rudp {

ReliableChannel::ReliableChannel(ReliableConfig config, Stats& stats)
    : cfg_(std::move(config)), stats_(stats) {
  cfg_.sendWindow = std::max<size_t>(cfg_.sendWindow, 1);
  cfg_.recvWindow = std::max<size_t>(cfg_.recvWindow, 1);
  cfg_.retryMaxMs = std::max(cfg_.retryMaxMs, cfg_.retryMinMs);
}

void ReliableChannel::start(uint32_t sendSeq, uint32_t recvSeq, double now) {
  sendBase_ = sendSeq & kSeqMask;
  recvNext_ = recvSeq & kSeqMask;
  ring_.assign(cfg_.recvWindow, Bytes());
  present_.assign(cfg_.recvWindow, false);
  ringHead_ = 0;
  started_ = true;
  pump(now);
}

double ReliableChannel::baseRto() const {
  if (cfg_.adaptive && haveRtt_) {
    return std::clamp(srtt_ + 4 * rttvar_, cfg_.rtoMinMs, cfg_.retryMaxMs);
  }
  return cfg_.retryMinMs;
}

void ReliableChannel::send(Bytes body, bool budgeted, double now) {
  queue_.emplace_back(std::move(body), budgeted);
  pump(now);
}

void ReliableChannel::emitData(uint32_t seq, Flag flag, const Bytes& body) {
  Bytes d;
  d.reserve(kHeaderSize + body.size());
  appendHeader(d, seq, flag);
  d.insert(d.end(), body.begin(), body.end());
  out_.push_back(std::move(d));
}

void ReliableChannel::pump(double now) {
  if (!started_ || timedOut_) return;
  while (!queue_.empty() && inflight_.size() < cfg_.sendWindow) {
    Outgoing o;
    o.body = std::move(queue_.front().first);
    o.budgeted = queue_.front().second;
    queue_.pop_front();
    o.sentAt = now;
    o.lastSent = now;
    o.interval = baseRto();
    o.deadline = now + o.interval;
    o.needsRack = cfg_.firstNeedsRack && !firstSent_;
    firstSent_ = true;
    const uint32_t seq = seqAdd(sendBase_, static_cast<uint32_t>(inflight_.size()));
    emitData(seq, Flag::Dat, o.body);
    if (o.needsRack) {
      emitData(seq, Flag::Rdat, o.body);
      stats_.add(&Stats::retransmits);
    }
    inflight_.push_back(std::move(o));
  }
}

void ReliableChannel::sample(double rtt) {
  if (!(rtt >= 0) || !std::isfinite(rtt)) return;
  // RFC 6298 estimator.
  if (!haveRtt_) {
    srtt_ = rtt;
    rttvar_ = rtt / 2;
    haveRtt_ = true;
  } else {
    rttvar_ = 0.75 * rttvar_ + 0.25 * std::fabs(srtt_ - rtt);
    srtt_ = 0.875 * srtt_ + 0.125 * rtt;
  }
}

bool ReliableChannel::onAck(const AckRecord& rec, double now) {
  if (!started_) {
    stats_.drop(DropReason::Unexpected);
    return false;
  }
  const int32_t d = seqDiff(rec.seq, sendBase_);
  if (d < 0 || static_cast<size_t>(d) >= inflight_.size() || inflight_[static_cast<size_t>(d)].acked) {
    stats_.drop(DropReason::Duplicate);
    return false;
  }
  const size_t idx = static_cast<size_t>(d);
  Outgoing& o = inflight_[idx];
  if (o.needsRack && !rec.rack) return false;  // the handshake ACK S, not an acknowledgement
  o.acked = true;
  if (o.budgeted) released_ += o.body.size();
  // Karn's rule: an acknowledgement of a resent DAT may answer any copy.
  if (o.retries == 0 && !o.needsRack) sample(now - o.sentAt);
  Bytes().swap(o.body);
  // Earlier DATs still unacknowledged that went out before this one: likely lost
  // once fastResendAfter such ACKs came (selective ACKs show the gap). Once per DAT,
  // like TCP's fast retransmit; after that the timer's backed-off schedule rules.
  if (cfg_.fastResendAfter > 0) {
    const double ackedSent = o.lastSent;
    for (size_t i = 0; i < idx; ++i) {
      Outgoing& e = inflight_[i];
      if (e.acked || e.retries > 0 || e.lastSent > ackedSent) continue;
      if (++e.laterAcks >= cfg_.fastResendAfter) resend(i, now, false);
    }
  }
  while (!inflight_.empty() && inflight_.front().acked) {
    inflight_.pop_front();
    sendBase_ = seqAdd(sendBase_, 1);
  }
  pump(now);
  return true;
}

void ReliableChannel::resend(size_t index, double now, bool backoff) {
  Outgoing& o = inflight_[index];
  ++o.retries;
  if (backoff) o.interval = std::min(o.interval * 2, cfg_.retryMaxMs);
  o.deadline = now + o.interval;
  o.lastSent = now;
  o.laterAcks = 0;
  emitData(seqAdd(sendBase_, static_cast<uint32_t>(index)), Flag::Rdat, o.body);
  stats_.add(&Stats::retransmits);
}

void ReliableChannel::onTimer(double now) {
  if (!started_ || timedOut_) return;
  for (size_t i = 0; i < inflight_.size(); ++i) {
    Outgoing& o = inflight_[i];
    if (o.acked || o.deadline > now) continue;
    if (o.retries >= cfg_.maxRetries) {
      timedOut_ = true;
      return;
    }
    resend(i, now, true);
  }
}

double ReliableChannel::nextDeadline() const {
  if (!started_ || timedOut_) return kNoDeadline;
  double t = kNoDeadline;
  for (const Outgoing& o : inflight_) {
    if (!o.acked) t = std::min(t, o.deadline);
  }
  return t;
}

void ReliableChannel::queueAck(uint32_t seq, bool rack) {
  const size_t rec = kHeaderSize + cfg_.ackSuffix.size();
  if (!acks_.empty() && acks_.size() + rec > cfg_.maxDatagramBody + kHeaderSize) {
    out_.push_back(std::move(acks_));
    acks_.clear();
  }
  appendAckRecord(acks_, seq, rack, cfg_.ackSuffix.data(), cfg_.ackSuffix.size());
}

void ReliableChannel::onData(uint32_t seq, bool retransmission, const uint8_t* body, size_t len,
                             double now) {
  (void)now;
  if (!started_) {
    stats_.drop(DropReason::Unexpected);
    return;
  }
  const int32_t d = seqDiff(seq, recvNext_);
  if (d < 0) {  // delivered already: the peer lost our acknowledgement
    queueAck(seq, retransmission);
    stats_.drop(DropReason::Duplicate);
    return;
  }
  // Beyond the window: not acknowledged, so the peer resends it later.
  if (static_cast<size_t>(d) >= cfg_.recvWindow) {
    stats_.drop(DropReason::OutOfWindow);
    return;
  }
  queueAck(seq, retransmission);
  const size_t slot = (ringHead_ + static_cast<size_t>(d)) % cfg_.recvWindow;
  if (present_[slot]) {
    stats_.drop(DropReason::Duplicate);
    return;
  }
  ring_[slot].assign(body, body + len);
  present_[slot] = true;
  while (present_[ringHead_]) {
    delivered_.push_back(std::move(ring_[ringHead_]));
    ring_[ringHead_] = Bytes();
    present_[ringHead_] = false;
    ringHead_ = (ringHead_ + 1) % cfg_.recvWindow;
    recvNext_ = seqAdd(recvNext_, 1);
  }
}

void ReliableChannel::takeDatagrams(std::vector<Bytes>& out) {
  if (!acks_.empty()) {
    out_.push_back(std::move(acks_));
    acks_.clear();
  }
  for (Bytes& d : out_) out.push_back(std::move(d));
  out_.clear();
}

void ReliableChannel::takeDelivered(std::vector<Bytes>& out) {
  for (Bytes& b : delivered_) out.push_back(std::move(b));
  delivered_.clear();
}

size_t ReliableChannel::takeReleasedBytes() {
  const size_t n = released_;
  released_ = 0;
  return n;
}

size_t ReliableChannel::inFlight() const {
  size_t n = 0;
  for (const Outgoing& o : inflight_) n += o.acked ? 0 : 1;
  return n;
}

void ReliableChannel::forgetOutgoing() {
  for (const Outgoing& o : inflight_) {
    if (!o.acked && o.budgeted) released_ += o.body.size();
  }
  for (const auto& q : queue_) {
    if (q.second) released_ += q.first.size();
  }
  sendBase_ = seqAdd(sendBase_, static_cast<uint32_t>(inflight_.size()));
  inflight_.clear();
  queue_.clear();
}

}  // namespace rudp
}  // namespace diarkis
