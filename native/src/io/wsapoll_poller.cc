// Poller over WSAPoll() (Windows). Level triggered, like the POSIX backends. The
// wake-up is io/waker.h's loopback UDP socket, registered like any other socket.
//
// Known WSAPoll limits the owner must live with: before Windows 10 2004 a failed
// non-blocking connect() is never reported (the session's connect timeout covers
// it), and an empty set is an error (handled here by sleeping).
#ifdef _WIN32
#include <winsock2.h>
#include <windows.h>

#include "io/poll_set.h"
#include "io/poller.h"
#include "io/socket_shim.h"

namespace diarkis {
namespace {

class WsaPollPoller final : public Poller {
 public:
  WsaPollPoller() { socketsStartup(); }

  bool add(SocketHandle s, uint64_t key, bool wantWrite) override {
    return s != kInvalidSocket && set_.add(s, key, wantWrite);
  }
  bool modify(SocketHandle s, uint64_t key, bool wantWrite) override {
    return set_.modify(s, key, wantWrite);
  }
  void remove(SocketHandle s) override { set_.remove(s); }

  int wait(std::vector<PollEvent>& out, int timeoutMs) override {
    if (set_.size() == 0) {
      Sleep(timeoutMs < 0 ? INFINITE : static_cast<DWORD>(timeoutMs));
      return 0;
    }
    const int n = WSAPoll(set_.data(), static_cast<ULONG>(set_.size()), timeoutMs);
    if (n <= 0) return 0;  // timeout or SOCKET_ERROR (the next turn retries)
    return set_.collect(out, POLLHUP, static_cast<short>(POLLERR | POLLNVAL));
  }

 private:
  // POLLRDNORM/POLLWRNORM: WSAPoll rejects POLLPRI, which POLLIN would not include
  // anyway, but the NORM bits are what its documentation asks for.
  PollSet<WSAPOLLFD, SOCKET> set_{POLLRDNORM, POLLWRNORM};
};

}  // namespace

std::unique_ptr<Poller> makeWsaPollPoller() { return std::make_unique<WsaPollPoller>(); }

}  // namespace diarkis
#endif  // _WIN32
