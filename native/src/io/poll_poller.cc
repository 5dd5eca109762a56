// Poller over POSIX poll(), for systems without epoll (macOS, the BSDs). Level
// triggered, like the epoll backend. O(n) per wait: fine for a client's handful of
// sockets; a kqueue backend would be the next step if a process held thousands.
#ifndef _WIN32
#include <poll.h>

#include <cerrno>

#include "io/poll_set.h"
#include "io/poller.h"

namespace diarkis {
namespace {

class PollPoller final : public Poller {
 public:
  bool add(SocketHandle fd, uint64_t key, bool wantWrite) override {
    return fd >= 0 && set_.add(fd, key, wantWrite);
  }
  bool modify(SocketHandle fd, uint64_t key, bool wantWrite) override {
    return set_.modify(fd, key, wantWrite);
  }
  void remove(SocketHandle fd) override { set_.remove(fd); }

  int wait(std::vector<PollEvent>& out, int timeoutMs) override {
    const int n = ::poll(set_.data(), static_cast<nfds_t>(set_.size()), timeoutMs);
    if (n <= 0) return 0;  // EINTR or timeout
    // POLLNVAL: a handle closed while registered, an owner bug; report it as failed
    // so the owner removes it instead of spinning.
    return set_.collect(out, POLLHUP, static_cast<short>(POLLERR | POLLNVAL));
  }

 private:
  PollSet<pollfd, int> set_{POLLIN, POLLOUT};
};

}  // namespace

std::unique_ptr<Poller> makePollPoller() { return std::make_unique<PollPoller>(); }

}  // namespace diarkis
#endif  // !_WIN32
