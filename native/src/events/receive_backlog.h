// ReceiveBacklog: one client's received events that a host has queued and its
// consumer (JavaScript, a dk_poll caller) has not taken yet, and the receive
// high-water mark that pauses the client's reading (docs/decisions.md, issue 11).
//
// The host's EventQueue adds an event's bytes when it queues it and subtracts
// them when the consumer takes it (EventQueue::track). The client's network side
// asks over() after it delivered events and, when so, pauses reading: TCP stops
// reading its socket, UDP refuses new reliable DATs and drops unreliable ones.
// The consumer's take that brings the bytes to the low-water mark (half the
// high) runs resume(), which posts the client's resume command to its runtime.
//
// The handshake between the two threads: the network side sets wantResume
// BEFORE it re-checks the bytes (armPause), the consumer clears it with an
// exchange AFTER it subtracted; whichever sees the other's write acts, so a
// resume is never lost and never doubled.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace diarkis {

class ReceiveBacklog {
 public:
  // Shared by the client and the host's queue (either may go first).
  explicit ReceiveBacklog(size_t highWaterMark) : high_(highWaterMark), low_(highWaterMark / 2) {}

  size_t highWaterMark() const { return high_; }
  size_t lowWaterMark() const { return low_; }
  uint64_t bytes() const { return bytes_.load(std::memory_order_acquire); }
  bool over() const { return bytes() >= high_; }

  // The host's queue (under its lock).
  void add(size_t n) { bytes_.fetch_add(n, std::memory_order_acq_rel); }
  // True when the consumer must run resume(): the bytes reached the low-water
  // mark while the network side waits for it.
  bool sub(size_t n) {
    uint64_t cur = bytes_.load(std::memory_order_acquire);
    while (!bytes_.compare_exchange_weak(cur, cur >= n ? cur - n : 0, std::memory_order_acq_rel)) {
    }
    const uint64_t left = cur >= n ? cur - n : 0;
    return left <= low_ && wantResume_.exchange(false, std::memory_order_acq_rel);
  }

  // Network side, when over(): true when the reader must pause (a consumer's
  // take will call resume()); false when the consumer already caught up.
  bool armPause() {
    wantResume_.store(true, std::memory_order_release);
    if (bytes() > low_) return true;
    return !wantResume_.exchange(false, std::memory_order_acq_rel);  // false: we took it back ourselves
  }
  // Network side: the client ended; a later take must not try to resume it.
  void disarm() { wantResume_.store(false, std::memory_order_release); }

  // Set once by the client before it connects; runs on the consumer's thread.
  std::function<void()> resume;

 private:
  std::atomic<uint64_t> bytes_{0};
  const size_t high_;
  const size_t low_;
  std::atomic<bool> wantResume_{false};
};

}  // namespace diarkis
