// The runtime: what runs the clients' sockets, timers, heartbeats and
// retransmits. Two drivers run the same sans-I/O sessions:
//  - Runtime::create(): the network-thread runtime. One thread owns every socket
//    of the clients created on it; other threads talk to it through a command queue.
//  - HostRuntime::create(io): the host-loop driver. No thread: the host's own
//    event loop (Node's libuv loop in the addon) watches the sockets and one timer
//    through HostIo and calls in; everything runs on the host's one thread.
//
// Threading and ownership rules (read these before using the clients):
//  - A thread Runtime starts its network thread when created and joins it in
//    shutdown() or its destructor. Never destroy or shut down a Runtime from its
//    own network thread (i.e. from inside a client callback).
//  - Everything a client does on the wire happens on the runtime's thread (the
//    network thread, or the host's thread). On the thread runtime, calls from
//    other threads (Connect, Send, Disconnect, ...) are queued as commands and
//    the thread is woken; they never block on the network. On a HostRuntime every
//    call MUST come from the host's thread.
//  - Client callbacks (OnConnect, OnPush, ...) run on the runtime's thread and
//    MUST NOT block: copy what you need and hand it on.
//  - Clients are known to the runtime by integer id; an event for a client that
//    has been detached is dropped, never delivered to a dangling object.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "diarkis/socket_handle.h"

namespace diarkis {

class Runtime {
 public:
  // Starts the network thread. Throws std::runtime_error if the poller cannot be created.
  static std::shared_ptr<Runtime> create();
  virtual ~Runtime() = default;

  // Run fn on the runtime's thread, in the order posted. On the thread runtime:
  // thread-safe. On a HostRuntime: from the host's thread only; fn runs at once
  // (or right after the callback in progress). After shutdown() began, fn is
  // dropped (not run).
  virtual void post(std::function<void()> fn) = 0;
  // True when called on this runtime's thread.
  virtual bool onNetworkThread() const = 0;
  // Destroys every client still attached (no callbacks after this returns),
  // stops the driver (and joins the thread). Idempotent. Must not be called on
  // the network thread of a thread runtime.
  virtual void shutdown() = 0;
  // Number of clients attached and not yet closed.
  virtual size_t activeClients() const = 0;
  // Monotonic milliseconds, the clock every timer of this runtime uses.
  static double nowMs();
};

// What a host loop does for a HostRuntime. Every call comes from the host's thread.
class HostIo {
 public:
  virtual ~HostIo() = default;
  // Watch a socket: readable always, writable when wantWrite; report through
  // HostRuntime::onReady(key, ...). False when the host cannot watch it.
  virtual bool watch(SocketHandle fd, uint64_t key, bool wantWrite) = 0;
  virtual bool rewatch(SocketHandle fd, uint64_t key, bool wantWrite) = 0;
  // Stop watching; called before the socket is closed.
  virtual void unwatch(SocketHandle fd) = 0;
  // Call HostRuntime::onTimer() at deadlineMs (Runtime::nowMs's clock); an
  // infinite deadline disarms.
  virtual void setTimer(double deadlineMs) = 0;
  // Output or events were produced outside onReady/onTimer (by a command): call
  // HostRuntime::flush() before the loop next waits for I/O.
  virtual void requestFlush() = 0;
};

class HostRuntime : public Runtime {
 public:
  // io must outlive the runtime's use of it: shutdown() (or detachIo()) ends it.
  static std::shared_ptr<HostRuntime> create(HostIo* io);

  // The host's callbacks. Input is read and decoded, events reach the clients'
  // callbacks; output waits for flush(), so one loop turn writes once per socket.
  virtual void onReady(uint64_t key, bool readable, bool writable, bool failed) = 0;
  virtual void onTimer() = 0;
  virtual void flush() = 0;
};

}  // namespace diarkis
