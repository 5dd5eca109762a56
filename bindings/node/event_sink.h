// EventSink: where a client's callbacks put their events, whatever the driver.
// Both sinks (EventPump for the network thread, HostPump for the host loop) keep
// them in the core's EventQueue and hand them to the one JS handler in batches
// built by batch.h.
#pragma once
#include <functional>
#include <memory>
#include <stdexcept>

#include "batch.h"
#include "diarkis/event.h"
#include "events/event_queue.h"
#include "events/packet_sink.h"

namespace diarkis_node {

struct PumpStats {
  uint64_t signals = 0;    // empty -> non-empty transitions signalled by other threads
  uint64_t batches = 0;    // calls into JS
  uint64_t events = 0;     // events delivered
  uint64_t maxBatch = 0;   // largest batch delivered
  uint64_t dropped = 0;    // events posted after close (the environment was going away)
  uint64_t queued = 0;     // events waiting right now
  uint64_t failures = 0;   // deliveries that failed with a C++ exception (caught; retried later)
};

class EventSink : public diarkis::PacketSink {
 public:
  static constexpr size_t kMaxBatch = 1024;
  ~EventSink() override = default;
  // The driver's thread. Never blocks on JS.
  void post(uint64_t clientId, diarkis::Event&& ev) { queued(queue_.push(clientId, std::move(ev))); }
  // The driver's thread: a TCP session's response or push, decrypted into the queue's arena.
  diarkis::PacketPost postPacket(uint64_t clientId, const diarkis::PacketHeader& h, size_t bound,
                                 diarkis::PacketFill fill, void* ctx, diarkis::DropReason& reason) override {
    bool wasEmpty = false;
    const diarkis::PacketPost r = queue_.pushPacket(clientId, h, bound, fill, ctx, reason, wasEmpty);
    if (r == diarkis::PacketPost::Queued) queued(wasEmpty);
    return r;
  }
  // JS thread, when the client is created: its queued bytes count against its
  // receive high-water mark (the client pauses reading past it).
  void track(uint64_t clientId, std::shared_ptr<diarkis::ReceiveBacklog> backlog) {
    queue_.track(clientId, std::move(backlog));
  }
  // JS thread, when the client is released.
  void untrack(uint64_t clientId) { queue_.untrack(clientId); }
  // Tests only: the next n deliveries throw a std:: exception before taking
  // anything, as an allocation failure would (the caught path, pump_failure test).
  void failNextForTest(int n) { failNext_ = n; }

  // Called on the JS thread for each Disconnect event, just before its batch goes
  // to JS, so the client's ref is dropped in the same turn.
  std::function<void(uint64_t clientId)> onDisconnect;

 protected:
  // After a push (wasEmpty: the queue went from empty to non-empty): wake the consumer.
  virtual void queued(bool wasEmpty) = 0;
  void countBatch(size_t n) {
    ++batches_;
    events_ += n;
    if (n > maxBatch_) maxBatch_ = n;
  }
  void fillStats(PumpStats& s) const {
    const diarkis::EventQueueStats q = queue_.stats();
    s.failures += failures_;
    s.batches += batches_;
    s.events += events_;
    if (maxBatch_ > s.maxBatch) s.maxBatch = maxBatch_;
    s.dropped += q.dropped;
    s.queued += q.queued;
  }

  // JS thread, at the start of a delivery.
  void failIfAskedForTest() {
    if (failNext_ > 0) {
      --failNext_;
      throw std::runtime_error("diarkis: a delivery failure (test)");
    }
  }
  // JS thread: a delivery threw. Nothing of it reached JS; what was taken is
  // dropped (counted), what is still queued is delivered by the next turn.
  void deliveryFailed() noexcept {
    ++failures_;
    batch_.clear();
  }

  diarkis::EventQueue queue_;
  diarkis::QueueBatch batch_;  // JS thread: the batch being delivered (capacity kept)
  BatchMeta batchMeta_;  // JS thread: the meta array handed to JS, kept across batches
  uint64_t failures_ = 0;
  int failNext_ = 0;

 private:
  uint64_t batches_ = 0;
  uint64_t events_ = 0;
  uint64_t maxBatch_ = 0;
};

}  // namespace diarkis_node
