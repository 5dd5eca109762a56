// The reliable channel of ONE side of an RUDP connection (PROTOCOL.md section 4,
// "Reliable delivery"), sans-I/O: bodies, records and `now` in; datagrams,
// delivered bodies and the next deadline out. Used by the client session and,
// in tests, by a simulated server.
//
// Sending: small bodies are packed back to back into one DAT up to the datagram
// size (PROTOCOL section 1); a DAT that is not full waits for flush()
// (takeDatagrams), which the owner calls once per loop turn. Two retry policies:
//  - adaptive (default for the client): RFC 6298 RTO with Karn's rule (the ACK
//    vs RACK flag says which copy arrived), RACK-style time-based loss detection
//    from the selective per-DAT ACKs, a tail-loss probe, a congestion window
//    (recovery.h), one retransmission timer restarted by every new
//    acknowledgement and backed off until a valid RTT sample; the connection
//    times out after maxRetries consecutive timeouts without progress.
//  - wire: every DAT on its own 1000/2000/4000/8000 ms schedule, maxRetries
//    resends of one DAT and the connection is dead (the stock server's way).
// Both keep the unacknowledged DATs under sendWindow and the span from the
// oldest unacknowledged one under the peer's receive window.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/stats.h"
#include "rudp/datagram.h"
#include "rudp/recovery.h"
#include "rudp/ring.h"

namespace diarkis {
namespace rudp {

struct ReliableConfig {
  double retryMinMs = 1000;  // wire schedule; adaptive: the RTO before any RTT sample
  double retryMaxMs = 8000;
  uint32_t maxRetries = 10;
  bool adaptive = false;
  double rtoMinMs = 100;
  size_t sendWindow = 256;   // unacknowledged DATs
  size_t recvWindow = 1024;  // our receive span (out-of-order DATs buffered)
  size_t peerWindow = 1024;  // the peer's receive span: seq - oldest unacknowledged < this
  size_t maxDatagramBody = 1400;  // DAT bodies are packed, ACK records batched, up to this
  // A partly filled DAT waits this long for more bodies while DATs of ours are in
  // flight and the peer has sent no new DAT since our latest (with none in flight, or
  // once the peer answered, it goes at the next flush, Nagle-like). ACK datagrams
  // are paced at most one per ackDelayMs: records queued that long after the previous
  // ACK datagram go at the next flush (a lone DAT after a quiet time is acknowledged at
  // once, with no timer), others wait for the pace unless a DAT goes with them or a
  // datagram fills (0: every flush sends them).
  double packDelayMs = 0;
  double ackDelayMs = 0;
  double initialCwnd = 64;   // adaptive: congestion window in DATs (64 x 1.4 KB fits a default socket buffer)
  double minCwnd = 16;
  // (ours) The server's first message goes out as DAT S and at once RDAT S, and
  // only RACK S clears it (the handshake ACK S has the same bytes as ACK of DAT S).
  bool firstNeedsRack = false;
  // Appended to every ACK/RACK record: the SID from a client, nothing from a server.
  Bytes ackSuffix;
};

class ReliableChannel {
 public:
  static constexpr double kNoDeadline = std::numeric_limits<double>::infinity();
  static constexpr uint32_t kNoSeq = 0xFFFFFFFFu;  // not a 24-bit seq: the end of the send-time list

  ReliableChannel(ReliableConfig config, Stats& stats);

  // Sequence bases: our first DAT carries sendSeq, the peer's first recvSeq.
  // Bodies queued before start() go out at the next flush.
  void start(uint32_t sendSeq, uint32_t recvSeq, double now);
  bool started() const { return started_; }
  // An RTT measured outside the channel (the handshake), used until DATs give samples.
  void seedRtt(double rttMs);

  // Queue a body; it goes out packed with its neighbours. `solo` bodies travel
  // alone in their DAT (fragment chunks, the migration claim). `budgeted` bodies
  // count in releasedBytes() once acknowledged (the user's bytes).
  void send(Bytes body, bool budgeted, double now, bool solo = false);
  // A DAT (retransmission = false) or RDAT arrived. Queues an ACK/RACK record
  // unless the seq is beyond the receive window.
  void onData(uint32_t seq, bool retransmission, const uint8_t* body, size_t len, double now) {
    (void)receive(seq, retransmission, body, len, now, false);
  }
  // The same, except that the next DAT in order, with nothing delivered or buffered
  // before it, is not copied: true, and the caller handles `body` itself as the
  // next delivered one, before it takes any other (the receiver's common case).
  bool onDataInPlace(uint32_t seq, bool retransmission, const uint8_t* body, size_t len, double now) {
    return receive(seq, retransmission, body, len, now, true);
  }
  // True when the record acknowledged a DAT of ours that was still unacknowledged
  // (the session counts that as a sign of life from the peer).
  bool onAck(const AckRecord& rec, double now);
  void onTimer(double now);
  double nextDeadline() const;

  // Everything to send, the partly filled DAT and ACK datagram included (the end
  // of a loop turn), appended to out.
  void takeDatagrams(std::vector<Bytes>& out);
  // Only what is complete: full DATs, retransmissions, full ACK datagrams.
  void takeReadyDatagrams(std::vector<Bytes>& out);
  // Packs what is queued into DATs now, without waiting packDelayMs (the first
  // DATs of a connection; before an unreliable send, which must not overtake them).
  void flushNow(double now) { pump(now, true, true); }
  // The ACK records queued so far go at the next take, without waiting ackDelayMs
  // (a migration's answers: the old node's careful close waits for them).
  void flushAcksNow();
  // takeDatagrams() would return something that takeReadyDatagrams() holds back ...
  bool hasUnflushed() const;
  // ... now (its pack or ACK delay is over, as of the last input): an owner that flushes at
  // the end of its loop turn asks this, and waits for nextDeadline() otherwise (asking
  // hasUnflushed() made the network thread spin through every delay).
  bool flushDue() const;
  void takeDelivered(std::vector<Bytes>& out);
  bool hasDelivered() const { return !delivered_.empty(); }
  size_t takeReleasedBytes();
  // Receive back-pressure: new DATs are neither acknowledged nor kept (counted
  // in Stats::receiveDeferred), so the peer resends them later; duplicates are
  // still acknowledged.
  void setRefuseNew(bool refuse) { refuseNew_ = refuse; }

  bool timedOut() const { return timedOut_; }
  bool idle() const { return unacked() == 0 && queue_.empty(); }
  size_t inFlight() const { return unacked(); }
  size_t queued() const { return queue_.size(); }
  // Bodies wait because the send window or the peer's span is full (flow
  // control; the congestion window is our own pacing and not counted here).
  bool windowBlocked() const {
    return !queue_.empty() && (unacked() >= cfg_.sendWindow || inflight_.size() >= cfg_.peerWindow);
  }
  // Migration: drop every unacknowledged and queued DAT (the old node proved it
  // processed them); their budgeted bytes come back via takeReleasedBytes.
  void forgetOutgoing();

  double srtt() const { return rtt_.srtt(); }
  double rttvar() const { return rtt_.rttvar(); }
  bool hasRttSample() const { return rtt_.have(); }
  double cwnd() const { return cc_.window(); }
  // Interval before the first resend of a fresh DAT under the current policy.
  double baseRto() const;
  // Receive side: out-of-order DATs held, and whether their buffer is allocated.
  size_t bufferedOutOfOrder() const { return oooCount_; }
  bool reorderBufferAllocated() const { return ooo_ != nullptr; }
  // The whole-window RACK scan that the send-time list replaces (tests check the two agree):
  // outstanding DATs it would declare lost now, its RACK deadline, and the channel's.
  struct RackCheck {
    size_t overdue = 0;
    double wholeWindowRackAt = kNoDeadline;
    double rackAt = kNoDeadline;
  };
  RackCheck checkRackScan(double now) const;
  // The pump resends from the head of a list of the DATs waiting after an RTO instead of a walk
  // from the oldest DAT (tests check the two agree): DATs flagged lost, whether the list holds
  // exactly those in seq order (and lost_ counts them), and whether the walk from the oldest
  // would resend one now (must be false after a call).
  struct LostWalkCheck {
    size_t lost = 0;
    bool listIsTheLostInSeqOrder = false;
    bool wouldResend = false;
  };
  LostWalkCheck checkLostWalk() const;

 private:
  // onData's work; true when inPlace and `body` is the next delivered (not copied).
  bool receive(uint32_t seq, bool retransmission, const uint8_t* body, size_t len, double now, bool inPlace);
  struct Message {
    Bytes body;
    bool budgeted = false;
    bool solo = false;
  };
  struct Outgoing {
    Bytes body;
    double firstSent = 0;
    double lastSent = 0;
    double deadline = 0;  // wire policy: this DAT's own timer
    double interval = 0;
    uint32_t retries = 0;
    uint32_t budgeted = 0;  // budgeted bytes packed in it
    bool acked = false;
    bool lost = false;      // adaptive: lost at an RTO, waiting for the window (in the lost list)
    bool lossInEpisode = false;  // its latest loss counted in a reduced episode (undo)
    bool needsRack = false;
    // Neighbours (by seq) in one of two lists of the adaptive policy: the send-time list while
    // outstanding (`listed`, see tsHead_), the lost list while waiting (`lost`, see lostHead_).
    bool listed = false;
    uint32_t tsPrev = kNoSeq;
    uint32_t tsNext = kNoSeq;
  };
  struct Slot {
    Bytes body;
    bool present = false;
  };

  size_t unacked() const { return pipe_ + lost_; }
  double packDeadline() const;  // when the partly packed DAT may go
  bool canSendNew() const;
  void pump(double now, bool flush, bool force = false);
  bool sendNewDat(double now, bool flush);
  void resendLost(double now);
  void retransmit(size_t index, double now);
  void emitData(uint32_t seq, Flag flag, const Bytes& body);
  void queueAck(uint32_t seq, bool rack);
  // Moves acks_ to out_, with the latest records of earlier ACK datagrams repeated where they fit.
  void emitAcks();
  // adaptive policy
  double currentRto() const;
  void detectLosses(double now);
  void noteLoss(uint32_t seq, double now);
  void enlistLost(uint32_t seq);
  void unlistLost(uint32_t seq);
  Outgoing& bySeq(uint32_t seq) { return inflight_[static_cast<size_t>(seqDiff(seq, sendBase_))]; }
  void enlist(uint32_t seq);
  void unlist(uint32_t seq);
  // Out of the list with this head and tail (the send-time list or the lost list).
  void unlink(uint32_t seq, uint32_t& head, uint32_t& tail);
  // RFC 8985 RACK_sent_after: later in time, or at the same time later in sequence.
  bool sentAfterRack(double sentAt, uint32_t seq) const {
    return sentAt > rackXmit_ || (sentAt == rackXmit_ && seqDiff(seq, rackSeq_) > 0);
  }
  double reorderWindow() const;
  void armTimers(double now);
  void onRto(double now);
  void sendProbe(double now);
  void wireTimer(double now);

  ReliableConfig cfg_;
  Stats& stats_;
  bool started_ = false;
  bool timedOut_ = false;
  bool refuseNew_ = false;
  bool firstSent_ = false;
  // A new DAT of the peer arrived since our latest new DAT: the pack rule treats what we sent
  // before it as answered (a peer that paces its ACKs answers before it acknowledges).
  bool peerSpoke_ = false;
  double now_ = 0;

  // sender
  uint32_t sendBase_ = 0;           // seq of inflight_[0]
  Ring<Outgoing> inflight_;         // seqs sendBase_, sendBase_+1, ...
  Ring<Message> queue_;             // bodies not yet in a DAT
  // queue_'s body bytes and solo bodies: a send that still fits the open DAT is known to
  // emit nothing without walking the queue (sendNewDat ran once per send and per queued body).
  size_t queueBytes_ = 0;
  size_t queueSolo_ = 0;
  size_t pipe_ = 0;                 // sent, unacknowledged, not declared lost
  size_t lost_ = 0;                 // lost at an RTO, not yet resent
  // The DATs lost at an RTO and waiting for the window, by seq: the pump resends from the head, so
  // resending costs what is sent, not a walk of the window per ACK. RACK's losses go at once.
  uint32_t lostHead_ = kNoSeq;
  uint32_t lostTail_ = kNoSeq;
  size_t released_ = 0;
  RttEstimator rtt_;
  CongestionWindow cc_;
  double rtoAt_ = kNoDeadline;
  double tlpAt_ = kNoDeadline;
  double rackAt_ = kNoDeadline;
  uint32_t backoff_ = 0;            // RTO doublings, kept until a valid RTT sample
  uint32_t timeouts_ = 0;           // consecutive timeouts without any acknowledgement
  double rackXmit_ = -kNoDeadline;  // send time of the latest-sent DAT acknowledged ...
  uint32_t rackSeq_ = 0;            // ... and its seq (ties: a burst shares one send time)
  double rackRtt_ = 0;
  double reoFactor_ = 1;            // reorder window in quarters of min RTT; grows on spurious resends
  double reoSeen_ = 0;              // the most reordering an ACK has shown (ms late behind a later send)
  // The outstanding DATs (unacknowledged, not lost) by (lastSent, seq), oldest first, linked by
  // seq (seqs stay valid as the ring pops): RACK's scan starts at the oldest and stops at the
  // first not lost, O(1) amortised per ACK record instead of a walk of the window.
  uint32_t tsHead_ = kNoSeq;
  uint32_t tsTail_ = kNoSeq;
  std::vector<uint32_t> lostScratch_;

  // receiver: in-order bodies pass straight through; the out-of-order buffer
  // exists only while a gap does.
  uint32_t recvNext_ = 0;
  size_t oooHead_ = 0;              // slot of recvNext_
  size_t oooCount_ = 0;
  std::unique_ptr<Slot[]> ooo_;
  std::vector<Bytes> delivered_;

  std::vector<Bytes> out_;
  Bytes acks_;                      // packed records waiting for a flush
  // The latest records sent (seq | rack << 31), repeated in the next ACK datagrams: records
  // are per DAT, with no cumulative acknowledgement, so a lost ACK datagram would otherwise
  // cost the peer a resend of every DAT it acknowledged.
  static constexpr size_t kRepeatAcks = 8;
  uint32_t recentAcks_[kRepeatAcks] = {};
  size_t recentAckCount_ = 0;
  size_t recentAckNext_ = 0;
  double queuedSince_ = kNoDeadline;  // the oldest body waiting in queue_
  double ackSince_ = kNoDeadline;     // the oldest record in acks_
  double ackSentAt_ = -kNoDeadline;   // the latest ACK datagram
  // When the waiting ACK records may go: at once after a quiet time, else one pace after the
  // latest ACK datagram (a stream of DATs gets one ACK datagram per ackDelayMs).
  double ackDue() const { return std::max(ackSince_, ackSentAt_ + cfg_.ackDelayMs); }
};

}  // namespace rudp
}  // namespace diarkis
