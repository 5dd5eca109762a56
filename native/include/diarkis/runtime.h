// The network runtime: one thread that owns every socket, timer, heartbeat and
// retransmit of the clients created on it.
//
// Threading and ownership rules (read these before using the clients):
//  - A Runtime starts its network thread when created and joins it in shutdown()
//    or its destructor. Never destroy or shut down a Runtime from its own network
//    thread (i.e. from inside a client callback).
//  - Everything a client does on the wire happens on the network thread. Calls
//    from other threads (Connect, Send, Disconnect, ...) are queued as commands and
//    the thread is woken; they never block on the network.
//  - Client callbacks (OnConnect, OnPush, ...) run on the network thread and MUST
//    NOT block: copy what you need and hand it to your own thread.
//  - Clients are known to the runtime by integer id; an event for a client that
//    has been detached is dropped, never delivered to a dangling object.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace diarkis {

class Runtime {
 public:
  // Starts the network thread. Throws std::runtime_error if the poller cannot be created.
  static std::shared_ptr<Runtime> create();
  virtual ~Runtime() = default;

  // Run fn on the network thread, in the order posted. Thread-safe. After
  // shutdown() began, fn is dropped (not run).
  virtual void post(std::function<void()> fn) = 0;
  // True when called on this runtime's network thread.
  virtual bool onNetworkThread() const = 0;
  // Destroys every client still attached (no callbacks after this returns),
  // stops and joins the thread. Idempotent. Must not be called on the network thread.
  virtual void shutdown() = 0;
  // Number of clients attached and not yet closed.
  virtual size_t activeClients() const = 0;
  // Monotonic milliseconds, the clock every timer of this runtime uses.
  static double nowMs();
};

}  // namespace diarkis
