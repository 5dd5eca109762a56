// Readiness poller behind a small interface, so that epoll can be swapped for
// poll() or WSAPoll() on other platforms without touching the runtime.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "diarkis/socket_handle.h"

namespace diarkis {

struct PollEvent {
  uint64_t key = 0;       // what the owner registered the fd with
  bool readable = false;
  bool writable = false;
  bool failed = false;    // error or hang-up: the owner reads/checks the socket to learn which
};

class Poller {
 public:
  virtual ~Poller() = default;
  // Watch fd for readability (always) and writability (when wantWrite). False on failure.
  virtual bool add(SocketHandle fd, uint64_t key, bool wantWrite) = 0;
  virtual bool modify(SocketHandle fd, uint64_t key, bool wantWrite) = 0;
  virtual void remove(SocketHandle fd) = 0;
  // Wait up to timeoutMs (-1: forever) and append ready fds to out. Returns the count (0 on EINTR).
  virtual int wait(std::vector<PollEvent>& out, int timeoutMs) = 0;
};

// Throws std::runtime_error when the kernel refuses.
std::unique_ptr<Poller> makeEpollPoller();  // Linux
std::unique_ptr<Poller> makePollPoller();   // POSIX (macOS, BSDs; also built on Linux)
std::unique_ptr<Poller> makeWsaPollPoller();  // Windows
// The platform's best: epoll on Linux, poll() on other POSIX, WSAPoll on Windows.
std::unique_ptr<Poller> makeDefaultPoller();

}  // namespace diarkis
