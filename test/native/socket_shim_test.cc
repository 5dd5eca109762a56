// io/socket_shim.h: the portable socket calls the io layer is written on.
#include "io/socket_shim.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "io/poller.h"
#include "loopback_pair.h"

namespace diarkis {
namespace {

TEST(SocketShim, OpenedSocketsAreNonBlocking) {
  ASSERT_TRUE(socketsStartup());
  UniqueSocket a, b;
  ASSERT_TRUE(test::tcpLoopbackPair(a, b));
  char buf[4];
  EXPECT_EQ(recvBytes(b.get(), buf, sizeof buf), -1);
  EXPECT_TRUE(isTransientSocketError(lastSocketError())) << socketErrorText(lastSocketError());
}

TEST(SocketShim, UdpSocketOpensWithConnResetOff) {
  UniqueSocket u(openSocket(AF_INET, SOCK_DGRAM));
  ASSERT_TRUE(u) << socketErrorText(lastSocketError());
  EXPECT_TRUE(disableUdpConnReset(u.get()));  // again: idempotent
}

TEST(SocketShim, ErrorsHaveDistinctText) {
  UniqueSocket a, b;
  ASSERT_TRUE(test::tcpLoopbackPair(a, b));
  char buf[4];
  ASSERT_EQ(recvBytes(b.get(), buf, sizeof buf), -1);
  const int wouldBlock = lastSocketError();
#ifdef _WIN32
  const int refused = WSAECONNREFUSED;
#else
  const int refused = ECONNREFUSED;
#endif
  EXPECT_FALSE(isTransientSocketError(refused));
  EXPECT_FALSE(socketErrorText(wouldBlock).empty());
  EXPECT_NE(socketErrorText(wouldBlock), socketErrorText(refused));
}

sockaddr_in boundLoopback(SocketHandle s) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
#ifdef _WIN32
  int len = sizeof addr;
#else
  socklen_t len = sizeof addr;
#endif
  EXPECT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return addr;
}

// On Windows an ICMP port-unreachable for an earlier datagram fails the next
// recvfrom with WSAECONNRESET unless SIO_UDP_CONNRESET is off; openSocket turns it
// off, so the datagram queued behind the ICMP is what recvfrom returns. Wine 8 does
// not report the ICMP either way (checked: the test passes with the report on), so
// only a real Windows run proves the ioctl; on Linux and wine it pins the behaviour.
TEST(SocketShim, UdpPortUnreachableDoesNotFailTheNextReceive) {
  UniqueSocket u(openSocket(AF_INET, SOCK_DGRAM));
  ASSERT_TRUE(u);
  const sockaddr_in self = boundLoopback(u.get());
  sockaddr_in closed{};
  {
    UniqueSocket gone(openSocket(AF_INET, SOCK_DGRAM));
    closed = boundLoopback(gone.get());
  }
  ASSERT_EQ(::sendto(u.get(), "x", 1, 0, reinterpret_cast<const sockaddr*>(&closed), sizeof closed), 1);
  UniqueSocket m(openSocket(AF_INET, SOCK_DGRAM));
  ASSERT_TRUE(m);
  ASSERT_EQ(::sendto(m.get(), "marker", 6, 0, reinterpret_cast<const sockaddr*>(&self), sizeof self), 6);
  auto poller = makeDefaultPoller();
  ASSERT_TRUE(poller->add(u.get(), 1, false));
  std::vector<PollEvent> ev;
  ASSERT_EQ(poller->wait(ev, 10000), 1);
  char buf[16];
  const long n = recvBytes(u.get(), buf, sizeof buf);
  ASSERT_EQ(n, 6) << socketErrorText(lastSocketError());
  EXPECT_EQ(std::string(buf, 6), "marker");
}

TEST(SocketShim, UniqueSocketClosesOnceAndMoves) {
  UniqueSocket a(openSocket(AF_INET, SOCK_DGRAM));
  ASSERT_TRUE(a);
  const SocketHandle h = a.get();
  UniqueSocket b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(b.get(), h);
  b.reset();
  EXPECT_FALSE(b);
}

}  // namespace
}  // namespace diarkis
