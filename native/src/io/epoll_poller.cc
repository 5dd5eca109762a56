// Linux only: other POSIX systems use the poll() backend (io/poll_poller.cc).
#ifdef __linux__
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "io/poller.h"
#include "io/unique_fd.h"

namespace diarkis {
namespace {

class EpollPoller final : public Poller {
 public:
  EpollPoller() : ep_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!ep_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  }

  bool add(int fd, uint64_t key, bool wantWrite) override { return ctl(EPOLL_CTL_ADD, fd, key, wantWrite); }
  bool modify(int fd, uint64_t key, bool wantWrite) override { return ctl(EPOLL_CTL_MOD, fd, key, wantWrite); }
  void remove(int fd) override { ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr); }

  int wait(std::vector<PollEvent>& out, int timeoutMs) override {
    epoll_event evs[256];
    const int n = ::epoll_wait(ep_.get(), evs, 256, timeoutMs);
    if (n <= 0) return 0;  // EINTR or timeout
    for (int i = 0; i < n; ++i) {
      PollEvent pe;
      pe.key = evs[i].data.u64;
      pe.readable = (evs[i].events & (EPOLLIN | EPOLLRDHUP)) != 0;
      pe.writable = (evs[i].events & EPOLLOUT) != 0;
      pe.failed = (evs[i].events & (EPOLLERR | EPOLLHUP)) != 0;
      out.push_back(pe);
    }
    return n;
  }

 private:
  bool ctl(int op, int fd, uint64_t key, bool wantWrite) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (wantWrite ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.u64 = key;
    return ::epoll_ctl(ep_.get(), op, fd, &ev) == 0;
  }

  UniqueFd ep_;
};

}  // namespace

std::unique_ptr<Poller> makeEpollPoller() { return std::make_unique<EpollPoller>(); }

}  // namespace diarkis
#endif  // __linux__
