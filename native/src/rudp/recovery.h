// Loss-recovery state of the adaptive sender (docs/decisions.md, issue #10):
// the RFC 6298 RTT estimator and a packet-counted congestion window (NewReno
// growth, reduced only for loss that looks like congestion). Pure, no clock.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace diarkis {
namespace rudp {

class RttEstimator {
 public:
  void sample(double rtt) {
    if (!(rtt >= 0) || !std::isfinite(rtt)) return;
    minRtt_ = std::min(minRtt_, rtt);
    latest_ = rtt;
    if (!have_) {
      srtt_ = rtt;
      rttvar_ = rtt / 2;
      have_ = true;
      return;
    }
    rttvar_ = 0.75 * rttvar_ + 0.25 * std::fabs(srtt_ - rtt);
    srtt_ = 0.875 * srtt_ + 0.125 * rtt;
  }
  bool have() const { return have_; }
  double srtt() const { return srtt_; }
  double rttvar() const { return rttvar_; }
  double minRtt() const { return have_ ? minRtt_ : 0; }
  double latest() const { return latest_; }
  // RFC 6298 (2.2)/(2.3) with a 1 ms clock granularity, clamped; `initial` before a sample.
  double rto(double minMs, double maxMs, double initial) const {
    if (!have_) return std::clamp(initial, minMs, maxMs);
    return std::clamp(srtt_ + std::max(1.0, 4 * rttvar_), minMs, maxMs);
  }

 private:
  bool have_ = false;
  double srtt_ = 0;
  double rttvar_ = 0;
  double latest_ = 0;
  double minRtt_ = std::numeric_limits<double>::infinity();
};

// Window in DATs, NewReno growth (slow start, then +1 per window). A loss
// episode reduces once (losses of DATs sent before the reduction belong to it),
// and only when the loss looks like congestion: the RTT floor of the last round
// rose above the path's minimum (a queue is building), or most of the recent
// DATs were lost (a socket buffer overran). Random loss on a lossy link, with no
// queue, leaves the window alone (the idea of TCP Veno and BBR: loss without
// queueing delay is not congestion). An RTO drops to one DAT.
class CongestionWindow {
 public:
  CongestionWindow(double initial, double floor) : cwnd_(initial), floor_(floor) {}
  double window() const { return cwnd_; }
  bool inRecovery(double sentAt) const { return sentAt <= recoveryStart_; }
  double lossRate() const { return loss_; }

  // An RTT sample at `now`: the per-round minimum, a round being one smoothed RTT.
  void onRtt(double rtt, double now, double srtt) {
    if (now >= roundEnd_) {
      lastRoundMin_ = roundMin_;
      roundMin_ = rtt;
      roundEnd_ = now + std::max(srtt, 1.0);
    } else {
      roundMin_ = std::min(roundMin_, rtt);
    }
  }
  void onAcked(double sentAt) {
    loss_ *= 1 - kLossGain;
    // No growth for DATs sent before a reduction, except in the slow start after
    // an RTO (the window restarts from one DAT: every ACK may open it again).
    if (inRecovery(sentAt) && !(afterRto_ && cwnd_ < ssthresh_)) return;
    if (cwnd_ < ssthresh_) cwnd_ += 1;          // slow start
    else cwnd_ += 1 / cwnd_;                    // congestion avoidance
    cwnd_ = std::min(cwnd_, kMax);
  }
  // A DAT sent at `sentAt` was declared lost at `now`. True when the loss
  // belongs to the reduced episode (an onSpurious for it may undo the reduction).
  bool onLoss(double sentAt, double now, double minRtt) {
    loss_ = loss_ * (1 - kLossGain) + kLossGain;
    if (inRecovery(sentAt)) {
      if (undoLosses_ > 0) ++undoLosses_;
      return undoLosses_ > 0;
    }
    const bool queueing = lastRoundMin_ - minRtt > std::max(5.0, minRtt / 2);
    if (!queueing && loss_ < kOverrunLoss) return false;
    priorCwnd_ = cwnd_;
    priorSsthresh_ = ssthresh_;
    undoLosses_ = 1;
    recoveryStart_ = now;
    afterRto_ = false;
    cwnd_ = std::max(floor_, cwnd_ / 2);
    ssthresh_ = cwnd_;
    return true;
  }
  // The original of a DAT declared lost was acknowledged: the loss was not one
  // (reordering). Its share of the loss rate goes, and once every loss of the
  // reduced episode proved spurious the reduction is undone (RFC 8985 with
  // DSACK, Linux's undo; the Eifel idea of RFC 3522).
  void onSpurious(bool inEpisode) {
    loss_ = std::max(0.0, loss_ - kLossGain);
    if (!inEpisode || undoLosses_ == 0 || --undoLosses_ > 0) return;
    cwnd_ = std::max(cwnd_, priorCwnd_);
    ssthresh_ = priorSsthresh_;
    recoveryStart_ = -std::numeric_limits<double>::infinity();
  }
  // RFC 5681's loss window: one DAT, then slow start to half the old window. A
  // stalled peer (a busy process) is not flooded with everything outstanding.
  void onRto(double now) {
    undoLosses_ = 0;
    recoveryStart_ = now;
    afterRto_ = true;
    ssthresh_ = std::max(floor_, cwnd_ / 2);
    cwnd_ = 1;
  }

 private:
  static constexpr double kMax = 4096;
  static constexpr double kLossGain = 1.0 / 16;
  // Over half the recent DATs (or their ACKs) lost: not a lossy link but an overrun.
  static constexpr double kOverrunLoss = 0.5;
  double cwnd_;
  double floor_;
  double ssthresh_ = std::numeric_limits<double>::infinity();
  double recoveryStart_ = -std::numeric_limits<double>::infinity();
  double loss_ = 0;
  bool afterRto_ = false;
  double roundEnd_ = -std::numeric_limits<double>::infinity();
  double roundMin_ = 0;
  double lastRoundMin_ = 0;
  // The reduced episode: its losses not yet proved spurious, and what to restore.
  size_t undoLosses_ = 0;
  double priorCwnd_ = 0;
  double priorSsthresh_ = 0;
};

}  // namespace rudp
}  // namespace diarkis
