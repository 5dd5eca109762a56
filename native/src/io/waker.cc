// io/waker.h per platform.
#include "io/waker.h"

#include <stdexcept>
#include <string>

#include "io/socket_shim.h"

#if defined(__linux__)
#include <sys/eventfd.h>
#include <unistd.h>
#elif !defined(_WIN32)
#include <fcntl.h>
#include <unistd.h>
#endif

namespace diarkis {
namespace {

[[noreturn]] void fail(const char* what, int err) {
  throw std::runtime_error(std::string("waker: ") + what + ": " + socketErrorText(err));
}

}  // namespace

#if defined(_WIN32)

Waker::Waker() {
  UniqueSocket s(openSocket(AF_INET, SOCK_DGRAM));
  if (!s) fail("socket", lastSocketError());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int len = sizeof addr;
  if (bind(s.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      connect(s.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    fail("loopback socket", lastSocketError());
  }
  read_ = write_ = s.release();
}

Waker::~Waker() { closeSocket(read_); }

void Waker::signal() {
  // WSAEWOULDBLOCK means the buffer already holds signals: the loop will wake.
  const char one = 1;
  send(write_, &one, 1, 0);
}

void Waker::drain() {
  char buf[64];
  while (recv(read_, buf, sizeof buf, 0) > 0) {
  }
}

#elif defined(__linux__)

Waker::Waker() {
  read_ = write_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (read_ < 0) fail("eventfd", lastSocketError());
}

Waker::~Waker() { ::close(read_); }

void Waker::signal() {
  const uint64_t one = 1;  // EAGAIN only when the counter is saturated: still readable
  [[maybe_unused]] ssize_t n = ::write(write_, &one, sizeof one);
}

void Waker::drain() {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(read_, &count, sizeof count);
}

#else  // other POSIX: a non-blocking pipe

Waker::Waker() {
  int fds[2];
  if (::pipe(fds) != 0) fail("pipe", lastSocketError());
  for (int fd : fds) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    setNonBlocking(fd);
  }
  read_ = fds[0];
  write_ = fds[1];
}

Waker::~Waker() {
  ::close(read_);
  ::close(write_);
}

void Waker::signal() {
  const char one = 1;  // EAGAIN: the pipe is full of signals, the loop will wake
  [[maybe_unused]] ssize_t n = ::write(write_, &one, 1);
}

void Waker::drain() {
  char buf[64];
  while (::read(read_, buf, sizeof buf) > 0) {
  }
}

#endif

}  // namespace diarkis
