#include "loopback_pair.h"

#include <gtest/gtest.h>

namespace diarkis::test {

namespace {
#ifdef _WIN32
using AddrLen = int;
#else
using AddrLen = socklen_t;
#endif
}  // namespace

bool tcpLoopbackPair(UniqueSocket& a, UniqueSocket& b) {
  UniqueSocket listener(openSocket(AF_INET, SOCK_STREAM));
  if (!listener) {
    ADD_FAILURE() << "socket: " << socketErrorText(lastSocketError());
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  AddrLen len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      ::listen(listener.get(), 1) != 0) {
    ADD_FAILURE() << "listen: " << socketErrorText(lastSocketError());
    return false;
  }
  a = UniqueSocket(openSocket(AF_INET, SOCK_STREAM));
  if (!a) return false;
  if (::connect(a.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 &&
      !isConnectInProgress(lastSocketError())) {
    ADD_FAILURE() << "connect: " << socketErrorText(lastSocketError());
    return false;
  }
  // A blocking accept: the connect above was issued, so the connection arrives.
  if (!setNonBlocking(listener.get(), false)) return false;
  const SocketHandle s = ::accept(listener.get(), nullptr, nullptr);
  if (s == kInvalidSocket) {
    ADD_FAILURE() << "accept: " << socketErrorText(lastSocketError());
    return false;
  }
  b = UniqueSocket(s);
  return setNonBlocking(b.get());
}

long sendSome(SocketHandle s, const void* data, size_t len) {
  return static_cast<long>(
      ::send(s, static_cast<const char*>(data), static_cast<int>(len), kSendFlags));
}

long recvSome(SocketHandle s, void* data, size_t len) {
  return static_cast<long>(::recv(s, static_cast<char*>(data), static_cast<int>(len), 0));
}

}  // namespace diarkis::test
