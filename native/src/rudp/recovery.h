// Loss-recovery state of the adaptive sender (docs/decisions.md, issue #10):
// the RFC 6298 RTT estimator and a packet-counted congestion window (NewReno
// growth, TCP Veno's split between random and congestive loss). Pure, no clock.
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

// Window in DATs. A loss episode reduces once (losses of DATs sent before the
// reduction belong to it). Veno: with little queue built up (backlog below 3
// DATs) the loss is taken as random (a lossy link, not a full queue) and the
// window keeps 4/5; otherwise it halves. An RTO drops to the floor.
class CongestionWindow {
 public:
  CongestionWindow(double initial, double floor) : cwnd_(initial), floor_(floor) {}
  double window() const { return cwnd_; }
  bool inRecovery(double sentAt) const { return sentAt <= recoveryStart_; }

  void onAcked(double sentAt) {
    if (inRecovery(sentAt)) return;  // no growth for DATs sent before the reduction
    if (cwnd_ < ssthresh_) cwnd_ += 1;          // slow start
    else cwnd_ += 1 / cwnd_;                    // congestion avoidance
    cwnd_ = std::min(cwnd_, kMax);
  }
  // A DAT sent at `sentAt` was declared lost at `now`.
  void onLoss(double sentAt, double now, double srtt, double minRtt) {
    if (inRecovery(sentAt)) return;
    recoveryStart_ = now;
    const double backlog = srtt > 0 ? cwnd_ * (srtt - minRtt) / srtt : 0;
    cwnd_ = std::max(floor_, cwnd_ * (backlog < 3 ? 0.8 : 0.5));
    ssthresh_ = cwnd_;
  }
  void onRto(double now) {
    recoveryStart_ = now;
    ssthresh_ = std::max(floor_, cwnd_ / 2);
    cwnd_ = floor_;
  }

 private:
  static constexpr double kMax = 4096;
  double cwnd_;
  double floor_;
  double ssthresh_ = std::numeric_limits<double>::infinity();
  double recoveryStart_ = -std::numeric_limits<double>::infinity();
};

}  // namespace rudp
}  // namespace diarkis
