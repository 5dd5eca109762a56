// State a DiarkisUdpBase shares with its network-thread side (UdpConnection).
// Held by shared_ptr from both sides, so it outlives whichever goes first.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "diarkis/udp_client.h"
#include "session/send_budget.h"

namespace diarkis {

class UdpConnection;

struct DiarkisUdpBase::Shared {
  explicit Shared(const UdpOptions& o)
      : highWaterMark(o.highWaterMark), budget(stats, o.highWaterMark, o.maxQueuedBytes) {}

  // Network thread: hand events to the owner's virtuals. Holds callbackMu so
  // that Detach() on another thread waits for a callback in progress; re-reads
  // owner before every event, so a Detach() inside a callback stops the rest.
  void deliver(std::vector<Event>& events) {
    std::lock_guard<std::mutex> lk(callbackMu);
    for (Event& ev : events) {
      DiarkisUdpBase* o = owner.load(std::memory_order_acquire);
      if (!o) break;
      o->dispatch(ev);  // may destroy *o (Detach runs first); o is not used after
    }
  }

  std::mutex callbackMu;
  std::atomic<DiarkisUdpBase*> owner{nullptr};
  std::atomic<bool> detached{false};
  std::atomic<ClientState> state{ClientState::Idle};
  std::atomic<bool> encrypted{true};  // set by Connect, read by Send's size check
  const size_t highWaterMark;
  Stats stats;
  // Reliable bytes: reserved by RSend on the caller's thread (so QueueFull and
  // `writable` are answered at once), handed over to the session's own
  // reservation on the network thread, released as DATs are acknowledged.
  SendBudget budget;

  // Requests held when the session ended (TakeUnsent), filled before OnDisconnect.
  std::mutex unsentMu;
  std::vector<UnsentPacket> unsent;

  UdpConnection* conn = nullptr;  // network thread only; null when not attached
};

}  // namespace diarkis
