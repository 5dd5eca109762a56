// Queued-byte accounting shared by the threads that call Send and the network
// thread that writes. Lock-free: Send reserves bytes before queueing a packet,
// the writer releases them once they reached the socket (or were discarded).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "diarkis/errors.h"
#include "diarkis/stats.h"

namespace diarkis {

class SendBudget {
 public:
  SendBudget(Stats& stats, size_t highWaterMark, size_t maxQueuedBytes)
      : stats_(stats), hwm_(highWaterMark), max_(maxQueuedBytes) {}

  // Thread-safe. Reserve n bytes for a packet about to be queued. QueueFull (nothing
  // reserved) past maxQueuedBytes. *writable is false at or past the high-water
  // mark; a refused or !writable send arms the next Drain.
  ErrorCode reserve(size_t n, bool* writable) {
    const uint64_t after = stats_.queuedBytes.fetch_add(n, std::memory_order_acq_rel) + n;
    if (after > max_) {
      stats_.queuedBytes.fetch_sub(n, std::memory_order_acq_rel);
      drainWanted_.store(true, std::memory_order_release);
      if (writable) *writable = false;
      return ErrorCode::QueueFull;
    }
    const bool ok = after < hwm_;
    if (!ok) drainWanted_.store(true, std::memory_order_release);
    if (writable) *writable = ok;
    return ErrorCode::None;
  }

  // Release n reserved bytes. True when a Drain is due: the queue fell below the
  // high-water mark and a send was refused or reported !writable since the last
  // Drain. A reservation still in flight is released later, so a Drain armed by
  // it cannot be lost.
  bool release(size_t n) {
    if (n == 0) return false;
    const uint64_t after = stats_.queuedBytes.fetch_sub(n, std::memory_order_acq_rel) - n;
    return after < hwm_ && drainWanted_.exchange(false, std::memory_order_acq_rel);
  }

  uint64_t queued() const { return stats_.queuedBytes.load(std::memory_order_acquire); }

 private:
  Stats& stats_;
  const size_t hwm_;
  const size_t max_;
  std::atomic<bool> drainWanted_{false};
};

}  // namespace diarkis
