// State a DiarkisTcpBase shares with its network-thread side (TcpConnection).
// Held by shared_ptr from both sides, so it outlives whichever goes first.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "diarkis/tcp_client.h"
#include "session/send_budget.h"

namespace diarkis {

class TcpConnection;

struct DiarkisTcpBase::Shared {
  explicit Shared(const TcpOptions& o)
      : budget(stats, o.highWaterMark, o.maxQueuedBytes), lingerMs(o.lingerMs) {}

  // Network thread: hand events to the owner's virtuals. Holds callbackMu so
  // that Detach() on another thread waits for a callback in progress; re-reads
  // owner before every event, so a Detach() inside a callback stops the rest.
  void deliver(std::vector<Event>& events) {
    std::lock_guard<std::mutex> lk(callbackMu);
    for (Event& ev : events) {
      DiarkisTcpBase* o = owner.load(std::memory_order_acquire);
      if (!o) break;
      o->dispatch(ev);  // may destroy *o (Detach runs first); o is not used after
    }
  }

  std::mutex callbackMu;
  std::atomic<DiarkisTcpBase*> owner{nullptr};
  std::atomic<bool> detached{false};
  std::atomic<ClientState> state{ClientState::Idle};
  Stats stats;
  SendBudget budget;

  // Caller-thread encryption: a SessionCrypto of its own (not thread-safe, so
  // under sendMu), never the network thread's. Posting under the same lock keeps
  // the packets of concurrent Send calls in the order they were encoded.
  std::mutex sendMu;
  std::unique_ptr<SessionCrypto> sendCrypto;

  const double lingerMs;  // the old socket's drain bound after a migrate answer

  // Requests held when the session ended (TakeUnsent), filled before OnDisconnect.
  std::mutex unsentMu;
  std::vector<UnsentPacket> unsent;

  TcpConnection* conn = nullptr;  // network thread only; null when not attached
};

}  // namespace diarkis
