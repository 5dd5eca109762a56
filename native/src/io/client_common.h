// Plumbing shared by DiarkisTcpBase and DiarkisUdpBase: the state each client
// shares with its network-thread side (ClientShared, the base of both nested
// Shared structs) and the caller-thread commands that are the same for both
// transports. Conn is TcpConnection or UdpConnection (close, migrate).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "diarkis/callback_queue.h"
#include "diarkis/event.h"
#include "diarkis/runtime.h"
#include "diarkis/stats.h"
#include "diarkis/tcp_client.h"  // ClientState, UnsentPacket
#include "events/packet_sink.h"
#include "events/receive_backlog.h"
#include "io/loop.h"
#include "io/runtime_impl.h"
#include "session/send_budget.h"

namespace diarkis {

// Held by shared_ptr from both sides, so it outlives whichever goes first.
template <class Owner, class Conn>
struct ClientShared : std::enable_shared_from_this<ClientShared<Owner, Conn>> {
  ClientShared(size_t highWaterMark, size_t maxQueuedBytes, std::shared_ptr<CallbackQueue> polled,
               size_t receiveHighWaterMark)
      : callbacks(std::move(polled)), budget(stats, highWaterMark, maxQueuedBytes),
        backlog(std::make_shared<ReceiveBacklog>(receiveHighWaterMark)) {}

  // Network thread, after delivering events: true when reading must pause (the
  // host's consumer is behind by the receive high-water mark; its take resumes us).
  bool shouldPauseReceive() { return backlog->over() && backlog->armPause(); }

  // Network thread: hand events to the owner's virtuals through dispatch(owner, ev),
  // at once or, with a CallbackQueue, when its owner polls. The queued batch holds
  // this weakly, so an unpolled queue keeps no client alive.
  template <class Dispatch>
  void deliverWith(std::vector<Event>& events, Dispatch dispatch) {
    if (!callbacks) return dispatchNow(events, dispatch);
    std::weak_ptr<ClientShared> self = this->shared_from_this();
    callbacks->Post([self, evs = std::move(events), dispatch]() mutable {
      if (auto s = self.lock()) s->dispatchNow(evs, dispatch);
    });
    events.clear();
  }

  // Holds callbackMu so that Detach() on another thread waits for a callback in
  // progress; re-reads owner before every event, so a Detach() inside a callback
  // stops the rest.
  template <class Dispatch>
  void dispatchNow(std::vector<Event>& events, Dispatch& dispatch) {
    std::lock_guard<std::mutex> lk(callbackMu);
    dispatching.store(std::this_thread::get_id(), std::memory_order_relaxed);
    for (Event& ev : events) {
      Owner* o = owner.load(std::memory_order_acquire);
      if (!o) break;
      dispatch(*o, ev);  // may destroy *o (Detach runs first); o is not used after
    }
    dispatching.store(std::thread::id(), std::memory_order_relaxed);
  }

  // Network thread: the session ended holding these; TakeUnsent() takes them.
  void keepUnsent(std::vector<UnsentPacket>&& held) {
    if (held.empty()) return;
    std::lock_guard<std::mutex> lk(unsentMu);
    for (auto& u : held) unsent.push_back(std::move(u));
  }

  std::vector<UnsentPacket> takeUnsent() {
    std::lock_guard<std::mutex> lk(unsentMu);
    std::vector<UnsentPacket> out;
    out.swap(unsent);
    return out;
  }

  std::mutex callbackMu;
  std::atomic<std::thread::id> dispatching{};  // the thread inside dispatchNow, if any
  const std::shared_ptr<CallbackQueue> callbacks;  // null: callbacks run on the network thread
  std::atomic<Owner*> owner{nullptr};
  std::atomic<bool> detached{false};
  std::atomic<bool> closeRequested{false};  // Disconnect() was called: SendMigrate() answers not-connected
  std::atomic<ClientState> state{ClientState::Idle};
  Stats stats;
  SendBudget budget;
  // Received events a host queued and has not taken (EventQueue::track); its
  // resume() posts resumeReceive to the connection (client::armResume).
  const std::shared_ptr<ReceiveBacklog> backlog;
  // The host's queue for responses and pushes as packets (SetPacketSink), set before
  // the connection exists; null with callbacks (they are polled as Events then).
  std::shared_ptr<PacketSink> packetSink;

  // Requests held when the session ended (TakeUnsent), filled before OnDisconnect.
  std::mutex unsentMu;
  std::vector<UnsentPacket> unsent;

  Conn* conn = nullptr;  // network thread only; null when not attached

};

namespace client {

// SendMigrate: through the same queue as the sends, so requests sent before the
// call go before the migrate request and those sent after it are held.
template <class Shared>
ErrorCode migrate(RuntimeImpl& rt, const std::shared_ptr<Shared>& shared, uint64_t id) {
  const ClientState st = shared->state.load(std::memory_order_acquire);
  if (st != ClientState::Connected && st != ClientState::Migrating) return ErrorCode::NotConnected;
  // A close() already posted runs first and ends the session, and the state
  // still says Connected until it has: without this the migration would wait on
  // a session that ignores it.
  if (shared->closeRequested.load(std::memory_order_acquire)) return ErrorCode::NotConnected;
  const bool posted = rt.postLoop(id, [shared](Loop&) {
    if (shared->conn) shared->conn->migrate(Runtime::nowMs());
  });
  return posted ? ErrorCode::None : ErrorCode::NotConnected;
}

// Set once, before the client connects: the consumer's take that brings the
// backlog down to its low-water mark resumes the connection's reading. Holds
// the runtime and the client weakly (the host's queue may outlive both).
template <class Shared>
void armResume(const std::shared_ptr<Runtime>& runtime, const std::shared_ptr<Shared>& shared, uint64_t id) {
  std::weak_ptr<Runtime> rt = runtime;
  std::weak_ptr<Shared> weak = shared;
  shared->backlog->resume = [rt, weak, id] {
    std::shared_ptr<Runtime> r = rt.lock();
    if (!r || weak.expired()) return;
    runtimeImpl(*r).postLoop(id, [weak](Loop&) {
      std::shared_ptr<Shared> s = weak.lock();
      if (s && s->conn) s->conn->resumeReceive(Runtime::nowMs());
    });
  };
}

template <class Shared>
void disconnect(RuntimeImpl& rt, const std::shared_ptr<Shared>& shared, uint64_t id, bool graceful) {
  shared->closeRequested.store(true, std::memory_order_release);
  ClientState expected = ClientState::Idle;
  if (shared->state.compare_exchange_strong(expected, ClientState::Closed)) return;  // never connected
  rt.postLoop(id, [shared, graceful](Loop&) {
    if (shared->conn) shared->conn->close(graceful, Runtime::nowMs());
  });
}

// Network thread, after an exception (LoopHandler::fail), the socket already
// closed: hand back what the session held and report internal-error.
template <class Shared, class Session>
void failInternal(Shared& shared, Session& session, const char* what) noexcept {
  shared.state.store(ClientState::Closed, std::memory_order_release);
  try {
    shared.keepUnsent(session.takeUnsent());
  } catch (...) {
    // The session is in an unknown state: its unsent requests are lost with it.
  }
  try {
    std::vector<Event> evs(1);
    evs[0].type = EventType::Disconnect;
    evs[0].code = ErrorCode::InternalError;
    evs[0].message = what ? what : "internal error";
    shared.deliver(evs);
  } catch (...) {
    // Out of memory even for the event, or a callback threw: the state says Closed.
  }
}

template <class Shared>
void detach(RuntimeImpl& rt, Shared& shared, uint64_t id) {
  if (shared.detached.exchange(true)) return;
  if (rt.onLoopThread() || shared.dispatching.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
    // Possibly inside one of our own callbacks (callbackMu is held by this
    // thread, the network thread's or a poller's): no lock; dispatchNow re-reads
    // owner before each event.
    shared.owner.store(nullptr, std::memory_order_release);
  } else {
    std::lock_guard<std::mutex> lk(shared.callbackMu);  // waits out a callback in progress
    shared.owner.store(nullptr, std::memory_order_release);
  }
  // Close the connection without callbacks. Dropped if the runtime already shut
  // down, which has closed every connection itself.
  rt.postLoop(id, [id](Loop& loop) {
    if (LoopHandler* h = loop.find(id)) {
      h->abandon();
      loop.detach(id);
    }
  });
}

}  // namespace client
}  // namespace diarkis
