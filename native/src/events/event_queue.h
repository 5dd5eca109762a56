// EventQueue: the one queue through which every host receives what the clients
// report (the Node addon's pump on either driver, later the C ABI's dk_poll).
//
// Producers (the network thread, or the host's own loop) push {clientId, Event};
// one consumer takes them out in order, in batches, into a vector it keeps: the
// taken events (and their payloads) stay valid until the consumer's next take,
// which is the lifetime a poll-style API promises ("until the next poll").
//
// Per-client byte accounting: every queued event counts its payload and strings
// against its client. A client tracked with its ReceiveBacklog (receive_backlog.h)
// sees the count too, pauses its reading past its receive high-water mark, and
// is resumed by the take that brings it back to the low-water mark.
//
// Packets (pushPacket): a Response or Push whose payload the session decrypts
// straight into the queue's arena, one byte buffer shared by every client, and
// whose record is one 32-byte row (queue_batch.h); other events are kept whole
// beside the rows. The Node hosts take rows, events and arena as they are (a
// QueueBatch, swapped); dk_poll's take gives each packet its own payload.
// Counted against the client like any payload.
//
// Thread-safe: push, take and the counters may run on different threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "diarkis/event.h"
#include "events/packet_sink.h"
#include "events/queue_batch.h"
#include "events/receive_backlog.h"

namespace diarkis {

// An event with its own payload (dk_poll's take).
struct QueuedEvent {
  uint64_t clientId = 0;
  Event ev;
};

struct EventQueueStats {
  uint64_t pushed = 0;   // events accepted
  uint64_t taken = 0;    // events handed to the consumer
  uint64_t dropped = 0;  // events refused after close()
  size_t queued = 0;     // events waiting now
  size_t bytes = 0;      // their payload + string bytes
};

class EventQueue {
 public:
  // The bytes an event holds beyond its fixed part (payload and strings).
  static size_t costOf(const Event& ev);

  // Returns true when the queue went from empty to non-empty: the one moment a
  // consumer waiting on another thread must be woken. False after close() (the
  // event is dropped and counted).
  bool push(uint64_t clientId, Event&& ev);

  // Sealed payloads up to this size go into the arena; larger ones keep their own
  // buffer (a small payload kept by the consumer must not pin a large one).
  static constexpr size_t kArenaPacketMax = 4096;
  // A packet whose payload fill() appends to the arena (under the lock: fill must
  // not call back into the queue). wasEmpty as push()'s result. Declined when
  // bound > kArenaPacketMax; Dropped (counted) after close().
  PacketPost pushPacket(uint64_t clientId, const PacketHeader& h, size_t bound, PacketFill fill, void* ctx,
                        DropReason& reason, bool& wasEmpty);

  // Moves up to `max` rows, oldest first, with their events and the arena's
  // bytes they point at into `out` (cleared first, capacity kept; a whole take
  // is a swap). Returns how many are still waiting afterwards. Runs, after its
  // lock is released, the resume() of every tracked client it brought back to
  // its low-water mark.
  size_t take(QueueBatch& out, size_t max);
  // The same as events with their own payloads (dk_poll's: valid until its next
  // poll, whatever the queue does meanwhile).
  size_t take(std::vector<QueuedEvent>& out, size_t max);

  // Count clientId's events in backlog too (from now on). A client pushes
  // nothing before it connects, so hosts track it when they create it.
  void track(uint64_t clientId, std::shared_ptr<ReceiveBacklog> backlog);
  // The client is gone: stop counting against its backlog (its queued events
  // stay for the consumer, who skips them); its entry goes once they are taken.
  void untrack(uint64_t clientId);

  // Drops every waiting event and refuses later pushes. Idempotent.
  void close();
  // Drops what one client has waiting (a released client's leftovers).
  void forget(uint64_t clientId);

  bool empty() const;
  size_t bytesFor(uint64_t clientId) const;
  EventQueueStats stats() const;

 private:
  struct Account {
    size_t bytes = 0;
    std::shared_ptr<ReceiveBacklog> backlog;  // null: not tracked
  };
  // Under mu_: what a row counts against its client.
  size_t costOf(const QueueRow& r) const { return r.packet ? r.length : costOf(q_.event(r)); }
  size_t takeLocked(QueueBatch& out, size_t max);  // under mu_
  void debit(uint64_t clientId, size_t cost);  // under mu_; fills resumes_
  // Under mu_: the client's account, made if new; the last one is cached (events come in
  // runs per client: a hash lookup per push and per take was in issue 9's profile).
  Account& account(uint64_t clientId);
  void erase(uint64_t clientId);  // under mu_; drops the cache with the entry

  mutable std::mutex mu_;
  // Swapped with the consumer's on a whole take: neither side loses its capacity,
  // so a steady stream allocates nothing per event. A forgotten client's packets
  // leave their bytes in the arena and its events an empty Event, until the take
  // that passes them.
  QueueBatch q_;
  QueueBatch polled_;  // dk_poll's take: the consumer's own (not under mu_)
  std::unordered_map<uint64_t, Account> clients_;
  Account* cached_ = nullptr;  // clients_[cachedId_], or null
  uint64_t cachedId_ = 0;
  std::vector<std::shared_ptr<ReceiveBacklog>> resumes_;  // under mu_: found by the take in progress
  size_t bytes_ = 0;
  uint64_t pushed_ = 0;
  uint64_t taken_ = 0;
  uint64_t dropped_ = 0;
  bool closed_ = false;
};

}  // namespace diarkis
