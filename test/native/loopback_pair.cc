#include "loopback_pair.h"

#include <gtest/gtest.h>

namespace diarkis::test {

bool tcpLoopbackPair(UniqueSocket& a, UniqueSocket& b) {
  UniqueSocket listener(openSocket(AF_INET, SOCK_STREAM));
  if (!listener) {
    ADD_FAILURE() << "socket: " << socketErrorText(lastSocketError());
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
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

}  // namespace diarkis::test
