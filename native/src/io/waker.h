// Wakes a thread blocked in Poller::wait from any other thread: a handle that the
// loop registers for readability, made readable by signal(). Linux: an eventfd;
// other POSIX: a pipe; Windows: a UDP socket on 127.0.0.1 connected to itself
// (WSAPoll only watches sockets). The Loop's thread mode uses it.
#pragma once
#include "diarkis/socket_handle.h"

namespace diarkis {

class Waker {
 public:
  Waker();  // throws std::runtime_error when the OS refuses
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // Register this for readability with the poller.
  SocketHandle handle() const { return read_; }
  // Any thread. Signals coalesce: many signals before a drain cost one wake-up.
  void signal();
  // The loop thread, when handle() was reported readable: consumes the signals.
  void drain();

 private:
  SocketHandle read_ = kInvalidSocket;
  SocketHandle write_ = kInvalidSocket;  // == read_ for eventfd and the UDP socket
};

}  // namespace diarkis
