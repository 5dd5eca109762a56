// The adaptive policy's loss detection and timers (reliable.h): RACK-style
// time-based detection from the selective ACKs, the tail-loss probe, the
// backed-off retransmission timeout.
#include <algorithm>
#include <cmath>

#include "rudp/reliable.h"

namespace diarkis {
namespace rudp {

namespace {
// Our ACKs leave at the end of the peer's loop turn; allow for that in the probe timeout.
constexpr double kAckDelayMs = 5;
constexpr double kLoneAckDelayMs = 200;
}  // namespace

double ReliableChannel::currentRto() const {
  const double base = rtt_.rto(cfg_.rtoMinMs, cfg_.retryMaxMs, cfg_.retryMinMs);
  return std::min(cfg_.retryMaxMs, base * std::pow(2.0, std::min<uint32_t>(backoff_, 16)));
}

// RFC 8985's reorder window, min RTT / 4 (times reoFactor_ after spurious
// resends), and at least the reordering ACKs have shown (a path with jitter
// reorders without loss), capped at the smoothed RTT.
double ReliableChannel::reorderWindow() const {
  return std::min(rtt_.srtt(), std::max(reoFactor_ * rtt_.minRtt() / 4, reoSeen_));
}

// RFC 8985: a DAT is lost once a DAT sent after it was acknowledged and a
// reorder window has passed since; otherwise the check is due then. The walk
// goes along the send-time list from its oldest: due times grow along it, and so
// does "sent after the RACK DAT", so it stops at the first DAT not lost. Those
// lost are marked and resent in sequence order, as a scan of the window would.
void ReliableChannel::detectLosses(double now) {
  rackAt_ = kNoDeadline;
  if (rackXmit_ == -kNoDeadline) return;  // nothing acknowledged yet
  const double reo = reorderWindow();
  lostScratch_.clear();
  for (uint32_t seq = tsHead_; seq != kNoSeq;) {
    const Outgoing& o = bySeq(seq);
    if (sentAfterRack(o.lastSent, seq)) break;
    const double due = o.lastSent + rackRtt_ + reo;
    if (now < due) {
      rackAt_ = due;
      break;
    }
    lostScratch_.push_back(seq);
    seq = o.tsNext;
  }
  if (lostScratch_.empty()) return;
  std::sort(lostScratch_.begin(), lostScratch_.end(), [this](uint32_t a, uint32_t b) { return seqDiff(a, sendBase_) < seqDiff(b, sendBase_); });
  for (const uint32_t seq : lostScratch_) {
    // Resent at once, outside the congestion window: the lost copy has left
    // the network, so this keeps the number in flight (packet conservation).
    noteLoss(seq, now);
    retransmit(static_cast<size_t>(seqDiff(seq, sendBase_)), now);
  }
}

ReliableChannel::RackCheck ReliableChannel::checkRackScan(double now) const {
  RackCheck r;
  r.rackAt = rackAt_;
  if (rackXmit_ == -kNoDeadline) return r;
  const double reo = reorderWindow();
  for (size_t i = 0; i < inflight_.size(); ++i) {
    const Outgoing& o = inflight_[i];
    if (o.acked || o.lost || sentAfterRack(o.lastSent, seqAdd(sendBase_, static_cast<uint32_t>(i)))) continue;
    const double due = o.lastSent + rackRtt_ + reo;
    if (now >= due) ++r.overdue;
    else r.wholeWindowRackAt = std::min(r.wholeWindowRackAt, due);
  }
  return r;
}

ReliableChannel::LostWalkCheck ReliableChannel::checkLostWalk() const {
  LostWalkCheck r;
  std::vector<uint32_t> flagged;
  for (size_t i = 0; i < inflight_.size(); ++i) {
    if (inflight_[i].lost) flagged.push_back(seqAdd(sendBase_, static_cast<uint32_t>(i)));
  }
  r.lost = flagged.size();
  std::vector<uint32_t> listed;
  for (uint32_t seq = lostHead_; seq != kNoSeq && listed.size() <= inflight_.size();) {
    listed.push_back(seq);
    const int32_t d = seqDiff(seq, sendBase_);
    if (d < 0 || static_cast<size_t>(d) >= inflight_.size()) break;  // a stale link: not equal below
    seq = inflight_[static_cast<size_t>(d)].tsNext;
  }
  r.listIsTheLostInSeqOrder = listed == flagged && lost_ == flagged.size() &&
                              (flagged.empty() ? lostTail_ == kNoSeq : lostTail_ == flagged.back());
  r.wouldResend = r.lost > 0 && static_cast<double>(pipe_) < cc_.window();
  return r;
}

// Into the send-time list after every DAT sent earlier (or at the same time with a lower seq).
void ReliableChannel::enlist(uint32_t seq) {
  Outgoing& o = bySeq(seq);
  uint32_t after = tsTail_;
  while (after != kNoSeq) {
    const Outgoing& a = bySeq(after);
    if (a.lastSent < o.lastSent || (a.lastSent == o.lastSent && seqDiff(after, seq) < 0)) break;
    after = a.tsPrev;
  }
  o.tsPrev = after;
  o.tsNext = after == kNoSeq ? tsHead_ : bySeq(after).tsNext;
  if (o.tsNext != kNoSeq) bySeq(o.tsNext).tsPrev = seq;
  else tsTail_ = seq;
  if (after != kNoSeq) bySeq(after).tsNext = seq;
  else tsHead_ = seq;
  o.listed = true;
}

void ReliableChannel::unlink(uint32_t seq, uint32_t& head, uint32_t& tail) {
  Outgoing& o = bySeq(seq);
  if (o.tsPrev != kNoSeq) bySeq(o.tsPrev).tsNext = o.tsNext;
  else head = o.tsNext;
  if (o.tsNext != kNoSeq) bySeq(o.tsNext).tsPrev = o.tsPrev;
  else tail = o.tsPrev;
  o.tsPrev = o.tsNext = kNoSeq;
}

void ReliableChannel::unlist(uint32_t seq) {
  Outgoing& o = bySeq(seq);
  if (!o.listed) return;
  unlink(seq, tsHead_, tsTail_);
  o.listed = false;
}

// Out of the send-time list, counted in the congestion response (RACK resends it at once).
void ReliableChannel::noteLoss(uint32_t seq, double now) {
  unlist(seq);
  Outgoing& o = bySeq(seq);
  o.lossInEpisode = cc_.onLoss(o.lastSent, now, rtt_.minRtt());
}

// At the lost list's tail (callers go in seq order); the link fields are free (not listed).
void ReliableChannel::enlistLost(uint32_t seq) {
  Outgoing& o = bySeq(seq);
  o.lost = true;
  o.tsPrev = lostTail_;
  o.tsNext = kNoSeq;
  if (lostTail_ != kNoSeq) bySeq(lostTail_).tsNext = seq;
  else lostHead_ = seq;
  lostTail_ = seq;
  ++lost_;
}

void ReliableChannel::unlistLost(uint32_t seq) {
  unlink(seq, lostHead_, lostTail_);
  bySeq(seq).lost = false;
  --lost_;
}

// The retransmission timer runs from the latest progress (an ACK) or the first
// DAT sent after a quiet time; the probe fires first, after two smoothed RTTs.
void ReliableChannel::armTimers(double now) {
  if (unacked() == 0) {
    rtoAt_ = tlpAt_ = rackAt_ = kNoDeadline;
    return;
  }
  if (rtoAt_ == kNoDeadline) rtoAt_ = now + currentRto();
  if (tlpAt_ == kNoDeadline && backoff_ == 0 && rtt_.have()) {
    // RFC 8985: with one DAT in flight its ACK may be the peer's delayed one (a busy peer's
    // loop turn), so the probe waits a worst-case ACK delay more.
    const double pto = std::max(2 * rtt_.srtt() + (unacked() == 1 ? kLoneAckDelayMs : kAckDelayMs), 10.0);
    if (now + pto < rtoAt_) tlpAt_ = now + pto;
  }
}

// The newest unacknowledged DAT again: its ACK (or the selective ACKs it
// prompts) reveals any loss at the tail without waiting for the RTO.
void ReliableChannel::sendProbe(double now) {
  for (size_t i = inflight_.size(); i-- > 0;) {
    const Outgoing& o = inflight_[i];
    if (o.acked) continue;
    if (!o.lost) retransmit(i, now);
    break;
  }
  rtoAt_ = now + currentRto();
  tlpAt_ = rtoAt_;  // one probe per quiet period: re-armed by the next ACK
}

// No progress for a whole RTO: everything outstanding is presumed lost, the
// window drops to one DAT (RFC 5681's loss window: only the oldest goes again,
// the rest follow as ACKs open the window in slow start) and the timer backs
// off. Only maxRetries timeouts in a row, with no acknowledgement between them,
// end the connection.
void ReliableChannel::onRto(double now) {
  if (timeouts_ >= cfg_.maxRetries) {
    timedOut_ = true;
    rtoAt_ = tlpAt_ = rackAt_ = kNoDeadline;
    return;
  }
  ++timeouts_;
  ++backoff_;
  // Every unacknowledged DAT is lost now: the lost list is rebuilt in seq order, those still
  // waiting from an earlier RTO included (one pass over the window, per RTO).
  lostHead_ = lostTail_ = kNoSeq;
  lost_ = 0;
  for (size_t i = 0; i < inflight_.size(); ++i) {
    Outgoing& o = inflight_[i];
    if (o.acked) continue;
    const uint32_t seq = seqAdd(sendBase_, static_cast<uint32_t>(i));
    if (!o.lost) {
      noteLoss(seq, now);
      --pipe_;
    }
    enlistLost(seq);
  }
  cc_.onRto(now);
  rtoAt_ = now + currentRto();
  tlpAt_ = rtoAt_;
}

}  // namespace rudp
}  // namespace diarkis
