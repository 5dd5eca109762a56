// The reliable channel of ONE side of an RUDP connection (PROTOCOL.md section 4,
// "Reliable delivery"): DAT/RDAT sending with a window, a local queue and
// retransmit timers (fixed or adaptive policy), and exactly-once in-order receipt
// with a bounded out-of-order buffer. Sans-I/O: bodies, records and `now` in;
// datagrams, delivered bodies and the next deadline out. Used by the client
// session and, in tests, by a simulated server.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/stats.h"
#include "rudp/datagram.h"

namespace diarkis {
namespace rudp {

struct ReliableConfig {
  double retryMinMs = 1000;
  double retryMaxMs = 8000;
  uint32_t maxRetries = 10;
  bool adaptive = false;
  double rtoMinMs = 100;
  size_t sendWindow = 256;
  size_t recvWindow = 1024;
  size_t maxDatagramBody = 1400;  // ACK records are packed up to this many bytes per datagram
  // (ours) The server's first message goes out as DAT S and at once RDAT S, and
  // only RACK S clears it (the handshake ACK S has the same bytes as ACK of DAT S).
  bool firstNeedsRack = false;
  // Appended to every ACK/RACK record: the SID from a client, nothing from a server.
  Bytes ackSuffix;
  // (ours) Fast resend: an unacknowledged DAT goes again once this many DATs sent
  // after it were acknowledged (selective ACKs make the gap visible); 0 = off.
  // Off by default: without congestion control the extra resends deepen kernel
  // buffer overruns (bench/udp, docs/decisions.md).
  uint32_t fastResendAfter = 0;
};

class ReliableChannel {
 public:
  static constexpr double kNoDeadline = std::numeric_limits<double>::infinity();

  ReliableChannel(ReliableConfig config, Stats& stats);

  // Sequence bases: our first DAT carries sendSeq, the peer's first recvSeq.
  // Bodies queued before start() go out now.
  void start(uint32_t sendSeq, uint32_t recvSeq, double now);
  bool started() const { return started_; }

  // Queue a DAT body; it goes out at once while the window has room. `budgeted`
  // bodies count in releasedBytes() once acknowledged (the user's bytes; our own
  // echoes and control requests are not budgeted).
  void send(Bytes body, bool budgeted, double now);
  // A DAT (retransmission = false) or RDAT arrived. Always queues an ACK/RACK
  // record unless the seq is beyond the receive window.
  void onData(uint32_t seq, bool retransmission, const uint8_t* body, size_t len, double now);
  // True when the record acknowledged a DAT of ours that was still unacknowledged
  // (the session counts that as a sign of life from the peer).
  bool onAck(const AckRecord& rec, double now);
  void onTimer(double now);
  double nextDeadline() const;

  // Datagrams to send (DAT, RDAT, packed ACK/RACK records), appended to out.
  void takeDatagrams(std::vector<Bytes>& out);
  // Bodies delivered in order, exactly once, appended to out.
  void takeDelivered(std::vector<Bytes>& out);
  // Budgeted bytes acknowledged (or forgotten) since the last call.
  size_t takeReleasedBytes();

  bool timedOut() const { return timedOut_; }
  // Nothing unacknowledged and nothing queued.
  bool idle() const { return inflight_.empty() && queue_.empty(); }
  size_t inFlight() const;
  size_t queued() const { return queue_.size(); }
  // Room for migration: drop every unacknowledged and queued DAT (the old node
  // proved it processed them); returns the budgeted bytes via takeReleasedBytes.
  void forgetOutgoing();

  double srtt() const { return srtt_; }
  double rttvar() const { return rttvar_; }
  bool hasRttSample() const { return haveRtt_; }
  // Interval before the first resend of a fresh DAT under the current policy.
  double baseRto() const;

 private:
  struct Outgoing {
    Bytes body;
    double sentAt = 0;    // first transmission (RTT samples)
    double lastSent = 0;  // latest transmission (fast resend ordering)
    double deadline = 0;
    double interval = 0;
    uint32_t retries = 0;
    uint32_t laterAcks = 0;  // DATs sent after lastSent and acknowledged since
    bool acked = false;
    bool budgeted = false;
    bool needsRack = false;
  };
  void pump(double now);
  void resend(size_t index, double now, bool backoff);
  void emitData(uint32_t seq, Flag flag, const Bytes& body);
  void sample(double rtt);
  void queueAck(uint32_t seq, bool rack);

  ReliableConfig cfg_;
  Stats& stats_;
  bool started_ = false;
  bool timedOut_ = false;
  bool firstSent_ = false;

  // sender
  uint32_t sendBase_ = 0;             // seq of inflight_.front()
  std::deque<Outgoing> inflight_;     // seqs sendBase_, sendBase_+1, ...
  std::deque<std::pair<Bytes, bool>> queue_;  // waiting for window room
  size_t released_ = 0;
  double srtt_ = 0;
  double rttvar_ = 0;
  bool haveRtt_ = false;

  // receiver
  uint32_t recvNext_ = 0;
  size_t ringHead_ = 0;               // slot of recvNext_
  std::vector<Bytes> ring_;
  std::vector<bool> present_;
  std::vector<Bytes> delivered_;

  std::vector<Bytes> out_;
  Bytes acks_;                        // packed records waiting for takeDatagrams
};

}  // namespace rudp
}  // namespace diarkis
