#include "rudp/reliable.h"

#include <algorithm>
#include <utility>

namespace diarkis {
namespace rudp {

ReliableChannel::ReliableChannel(ReliableConfig config, Stats& stats)
    : cfg_(std::move(config)),
      stats_(stats),
      cc_(std::max(1.0, cfg_.initialCwnd), std::max(1.0, std::min(cfg_.minCwnd, cfg_.initialCwnd))) {
  cfg_.sendWindow = std::max<size_t>(cfg_.sendWindow, 1);
  cfg_.recvWindow = std::max<size_t>(cfg_.recvWindow, 1);
  cfg_.peerWindow = std::max<size_t>(cfg_.peerWindow, 1);
  cfg_.retryMaxMs = std::max(cfg_.retryMaxMs, cfg_.retryMinMs);
}

void ReliableChannel::start(uint32_t sendSeq, uint32_t recvSeq, double now) {
  sendBase_ = sendSeq & kSeqMask;
  recvNext_ = recvSeq & kSeqMask;
  started_ = true;
  now_ = now;
  pump(now, false);
}

void ReliableChannel::seedRtt(double rttMs) {
  if (!rtt_.have()) rtt_.sample(rttMs);
}

double ReliableChannel::baseRto() const {
  return cfg_.adaptive ? rtt_.rto(cfg_.rtoMinMs, cfg_.retryMaxMs, cfg_.retryMinMs) : cfg_.retryMinMs;
}

void ReliableChannel::send(Bytes body, bool budgeted, double now, bool solo) {
  now_ = now;
  Message m;
  m.body = std::move(body);
  m.budgeted = budgeted;
  m.solo = solo;
  if (queue_.empty()) queuedSince_ = now;
  queueBytes_ += m.body.size();
  queueSolo_ += m.solo ? 1 : 0;
  queue_.push_back(std::move(m));
  pump(now, false);
}

void ReliableChannel::emitData(uint32_t seq, Flag flag, const Bytes& body) {
  Bytes d;
  d.reserve(kHeaderSize + body.size());
  appendHeader(d, seq, flag);
  d.insert(d.end(), body.begin(), body.end());
  out_.push_back(std::move(d));
}

bool ReliableChannel::canSendNew() const {
  if (!started_ || timedOut_) return false;
  if (unacked() >= cfg_.sendWindow || inflight_.size() >= cfg_.peerWindow) return false;
  return !cfg_.adaptive || static_cast<double>(pipe_) < cc_.window();
}

// Losses first (they hold the peer's delivery back), then new DATs.
void ReliableChannel::pump(double now, bool flush, bool force) {
  if (!started_ || timedOut_) return;
  if (lost_ > 0 && static_cast<double>(pipe_) < cc_.window()) resendLost(now);
  // A partial DAT goes at a flush once it waited packDelayMs for company, or at once
  // when nothing of ours is in flight (packDeadline).
  const bool partialOk = flush && (force || now >= packDeadline());
  while (!queue_.empty() && canSendNew()) {
    if (!sendNewDat(now, partialOk)) break;
  }
  if (queue_.empty()) queuedSince_ = kNoDeadline;
  if (cfg_.adaptive) armTimers(now);
}

// Packs the queue's front bodies into one DAT. A DAT that could still take more
// waits for the flush (false), so a burst made in one loop turn shares datagrams.
bool ReliableChannel::sendNewDat(double now, bool flush) {
  // The whole queue fits one DAT that may still take more: it waits for the flush (what
  // the walk below finds, in O(1)).
  if (!flush && queueSolo_ == 0 && queueBytes_ <= cfg_.maxDatagramBody) return false;
  size_t n = 1;
  size_t total = queue_[0].body.size();
  if (!queue_[0].solo) {
    while (n < queue_.size() && !queue_[n].solo && total + queue_[n].body.size() <= cfg_.maxDatagramBody) {
      total += queue_[n].body.size();
      ++n;
    }
    if (n == queue_.size() && !flush) return false;
  }
  Outgoing o;
  for (size_t i = 0; i < n; ++i) {
    if (queue_[i].budgeted) o.budgeted += static_cast<uint32_t>(queue_[i].body.size());
  }
  if (n == 1) {
    o.body = std::move(queue_[0].body);
  } else {
    o.body.reserve(total);
    for (size_t i = 0; i < n; ++i) o.body.insert(o.body.end(), queue_[i].body.begin(), queue_[i].body.end());
  }
  for (size_t i = 0; i < n; ++i) {
    queueSolo_ -= queue_[0].solo ? 1 : 0;
    queue_.pop_front();
  }
  queueBytes_ -= total;
  o.firstSent = o.lastSent = now;
  o.interval = baseRto();
  o.deadline = now + o.interval;
  o.needsRack = cfg_.firstNeedsRack && !firstSent_;
  firstSent_ = true;
  peerSpoke_ = false;
  const uint32_t seq = seqAdd(sendBase_, static_cast<uint32_t>(inflight_.size()));
  emitData(seq, Flag::Dat, o.body);
  if (o.needsRack) {
    emitData(seq, Flag::Rdat, o.body);
    stats_.add(&Stats::retransmits);
  }
  inflight_.push_back(std::move(o));
  if (cfg_.adaptive) enlist(seq);
  ++pipe_;
  return true;
}

// Lost DATs in sequence order from the oldest while the window allows: the lost list's head.
void ReliableChannel::resendLost(double now) {
  while (lostHead_ != kNoSeq && static_cast<double>(pipe_) < cc_.window()) {
    retransmit(static_cast<size_t>(seqDiff(lostHead_, sendBase_)), now);
  }
}

void ReliableChannel::retransmit(size_t index, double now) {
  Outgoing& o = inflight_[index];
  const uint32_t seq = seqAdd(sendBase_, static_cast<uint32_t>(index));
  if (o.lost) {
    unlistLost(seq);
    ++pipe_;
  }
  ++o.retries;
  o.lastSent = now;
  if (cfg_.adaptive) {
    unlist(seq);
    enlist(seq);
  }
  emitData(seq, Flag::Rdat, o.body);
  stats_.add(&Stats::retransmits);
}

bool ReliableChannel::onAck(const AckRecord& rec, double now) {
  now_ = now;
  if (!started_) {
    stats_.drop(DropReason::Unexpected);
    return false;
  }
  const int32_t d = seqDiff(rec.seq, sendBase_);
  // A record for a DAT acknowledged lately is the peer repeating its latest
  // records (emitAcks) or a late copy: expected, not counted. One far behind
  // (beyond the peer's receive span) or for a DAT never sent is.
  const bool recent = d < 0 ? static_cast<size_t>(-static_cast<int64_t>(d)) <= cfg_.peerWindow
                            : static_cast<size_t>(d) < inflight_.size() && inflight_[static_cast<size_t>(d)].acked;
  if (recent) return false;
  if (d < 0 || static_cast<size_t>(d) >= inflight_.size()) {
    stats_.drop(DropReason::Duplicate);
    return false;
  }
  Outgoing& o = inflight_[static_cast<size_t>(d)];
  if (o.needsRack && !rec.rack) return false;  // the handshake ACK S, not an acknowledgement
  o.acked = true;
  if (o.lost) {
    unlistLost(rec.seq);
  } else {
    unlist(rec.seq);
    --pipe_;
  }
  released_ += o.budgeted;
  const double xmit = rec.rack ? o.lastSent : o.firstSent;
  // Karn's rule, made exact by the flag: ACK answers the first DAT (also when it was
  // resent: a late ACK of the original is the round trip that a stalled peer really
  // took, the very sample the estimator needs to stop spurious RTOs), RACK an RDAT
  // (unambiguous only while there was just one).
  const bool sampled = !o.needsRack && (!rec.rack || o.retries == 1);
  if (sampled) {
    rtt_.sample(now - xmit);
    cc_.onRtt(now - xmit, now, rtt_.srtt());
  }
  // The original arrived after we resent it: the reorder window was too small.
  const bool spurious = !rec.rack && o.retries > 0;
  if (spurious && reoFactor_ < 16) reoFactor_ *= 2;
  if (cfg_.adaptive) {
    if (spurious) cc_.onSpurious(o.lossInEpisode);
    cc_.onAcked(xmit);
    if (rackXmit_ != -kNoDeadline && !sentAfterRack(xmit, rec.seq)) {
      // Delivered behind a DAT sent after it: reordering, by this much beyond that DAT's RTT.
      reoSeen_ = std::max(reoSeen_, now - xmit - rackRtt_);
    } else {
      rackXmit_ = xmit;
      rackSeq_ = rec.seq;
      rackRtt_ = now - xmit;
    }
    timeouts_ = 0;  // the peer is alive
    // The backed-off RTO stays until a valid RTT sample (RFC 6298 section 5): an ACK
    // without one (a RACK of a DAT resent twice) says nothing about how slow the peer is.
    if (sampled) backoff_ = 0;
  }
  Bytes().swap(o.body);
  while (!inflight_.empty() && inflight_.front().acked) {
    inflight_.pop_front();
    sendBase_ = seqAdd(sendBase_, 1);
  }
  if (cfg_.adaptive) {
    rtoAt_ = tlpAt_ = kNoDeadline;  // re-armed from now by pump()
    detectLosses(now);
  }
  pump(now, false);
  return true;
}

void ReliableChannel::onTimer(double now) {
  now_ = now;
  if (!started_ || timedOut_) return;
  if (!cfg_.adaptive) return wireTimer(now);
  if (now >= rackAt_) detectLosses(now);
  if (now >= rtoAt_) {
    onRto(now);
  } else if (now >= tlpAt_) {
    sendProbe(now);
  }
  pump(now, false);
}

void ReliableChannel::wireTimer(double now) {
  for (size_t i = 0; i < inflight_.size(); ++i) {
    Outgoing& o = inflight_[i];
    if (o.acked || o.deadline > now) continue;
    if (o.retries >= cfg_.maxRetries) {
      timedOut_ = true;
      return;
    }
    o.interval = std::min(o.interval * 2, cfg_.retryMaxMs);
    o.deadline = now + o.interval;
    retransmit(i, now);
  }
}

double ReliableChannel::nextDeadline() const {
  if (!started_ || timedOut_) return kNoDeadline;
  double t = acks_.empty() ? kNoDeadline : ackDue();
  if (!queue_.empty() && canSendNew()) t = std::min(t, packDeadline());
  if (unacked() == 0) return t;
  if (cfg_.adaptive) return std::min({t, rtoAt_, tlpAt_, rackAt_});
  for (size_t i = 0; i < inflight_.size(); ++i) {
    if (!inflight_[i].acked) t = std::min(t, inflight_[i].deadline);
  }
  return t;
}

void ReliableChannel::takeReadyDatagrams(std::vector<Bytes>& out) {
  for (Bytes& d : out_) out.push_back(std::move(d));
  out_.clear();
}

void ReliableChannel::takeDatagrams(std::vector<Bytes>& out) {
  pump(now_, true);
  // ACK records leave once due (ackDue), or with any DAT this flush writes (the owner writes
  // a flush's datagrams in one go: no extra wake-up, no extra call).
  if (!acks_.empty() && (now_ >= ackDue() || !out_.empty())) emitAcks();
  takeReadyDatagrams(out);
}

void ReliableChannel::flushAcksNow() { emitAcks(); }

bool ReliableChannel::hasUnflushed() const { return !acks_.empty() || (!queue_.empty() && canSendNew()); }

bool ReliableChannel::flushDue() const {
  return (!acks_.empty() && (now_ >= ackDue() || !out_.empty())) ||
         (!queue_.empty() && canSendNew() && now_ >= packDeadline());
}

// Nagle-like: a body queued while none of ours is unacknowledged leaves at the next flush
// (a lone request waits for nothing); while DATs are in flight, bodies wait packDelayMs
// for company (a burst sent one call at a time still shares datagrams). A new DAT from the
// peer since our latest counts as the answer to what we sent: a peer that paces its ACKs
// (our node: 4 ms) answers a lone request before it acknowledges it, and the next lone
// request would otherwise wait the pack delay every time (the thread driver at 1 in flight:
// ~900 echoes/s; docs/decisions.md, issue 9 sixth session, second round). At most one
// partly filled DAT leaves per DAT received, so a stream still packs.
double ReliableChannel::packDeadline() const {
  return unacked() == 0 || peerSpoke_ ? queuedSince_ : queuedSince_ + cfg_.packDelayMs;
}

size_t ReliableChannel::takeReleasedBytes() {
  const size_t n = released_;
  released_ = 0;
  return n;
}

void ReliableChannel::forgetOutgoing() {
  for (size_t i = 0; i < inflight_.size(); ++i) {
    if (!inflight_[i].acked) released_ += inflight_[i].budgeted;
  }
  for (size_t i = 0; i < queue_.size(); ++i) {
    if (queue_[i].budgeted) released_ += queue_[i].body.size();
  }
  sendBase_ = seqAdd(sendBase_, static_cast<uint32_t>(inflight_.size()));
  inflight_.release();
  queue_.release();
  queueBytes_ = queueSolo_ = 0;
  pipe_ = lost_ = 0;
  tsHead_ = tsTail_ = lostHead_ = lostTail_ = kNoSeq;
  rtoAt_ = tlpAt_ = rackAt_ = kNoDeadline;
}

}  // namespace rudp
}  // namespace diarkis
