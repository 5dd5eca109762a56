// Readiness poller behind a small interface, so that epoll can be swapped for
// kqueue/IOCP on other platforms without touching the runtime.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

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
  virtual bool add(int fd, uint64_t key, bool wantWrite) = 0;
  virtual bool modify(int fd, uint64_t key, bool wantWrite) = 0;
  virtual void remove(int fd) = 0;
  // Wait up to timeoutMs (-1: forever) and append ready fds to out. Returns the count (0 on EINTR).
  virtual int wait(std::vector<PollEvent>& out, int timeoutMs) = 0;
};

// Throws std::runtime_error when the kernel refuses.
std::unique_ptr<Poller> makeEpollPoller();

}  // namespace diarkis
