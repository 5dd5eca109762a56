// Test helpers for migrations over loopback sockets: a blocking fake node on its
// own thread (FakeNode), request serving with ServerCodec, and an old node that
// answers the migrate request with a target. Shared by the C++ class tests
// (tcp_migration_loopback_test.cc) and the C ABI's (test/engines).
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "diarkis/codec.h"
#include "test_server.h"

namespace diarkis::test {

inline Bytes bytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string textOf(const Bytes& b) { return std::string(b.begin(), b.end()); }

inline const Bytes kTicket = bytesOf("0123456789abcdef");

inline Bytes migrateAnswerBody(const std::string& addr) {
  Bytes b;
  b.push_back(static_cast<uint8_t>(addr.size() >> 8));
  b.push_back(static_cast<uint8_t>(addr.size()));
  for (char c : addr) b.push_back(static_cast<uint8_t>(c));
  for (uint8_t t : kTicket) b.push_back(t);
  return b;
}

// One node on 127.0.0.1 serving one connection on its own thread with `serve`.
class FakeNode {
 public:
  using Serve = std::function<void(int fd)>;
  explicit FakeNode(Serve serve) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), len);
    ::listen(listen_, 4);
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, serve = std::move(serve)] {
      const int fd = ::accept(listen_, nullptr, nullptr);
      if (fd < 0) return;
      timeval tv{20, 0};  // safety net: a stuck test ends instead of hanging
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      serve(fd);
      ::close(fd);
    });
  }
  ~FakeNode() {
    ::shutdown(listen_, SHUT_RDWR);  // wakes accept() if nobody came
    thread_.join();
    ::close(listen_);
  }
  uint16_t port() const { return port_; }

 private:
  int listen_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

inline void writeAll(int fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    const ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads requests until EOF, calling on(request); on returns false to stop.
inline void serveRequests(int fd, const std::function<bool(ServerCodec&, const Request&)>& on) {
  ServerCodec codec;
  uint8_t buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    for (const Request& r : codec.feed(buf, static_cast<size_t>(n))) {
      if (!on(codec, r)) return;
    }
  }
}

// The old node: heartbeats answered, 2/1 echoed; the migrate request answered with
// `target` + kTicket, then half-closed; reads to EOF (the client's end).
inline FakeNode::Serve oldNode(std::function<std::string()> target) {
  return [target = std::move(target)](int fd) {
    serveRequests(fd, [&](ServerCodec& c, const Request& r) {
      if (r.ver == 0 && r.cmd == wire::kCmdKeepAlive) writeAll(fd, c.heartbeatAnswer(wire::kNodeOnline, r.timestamp));
      if (r.ver == 2 && r.cmd == 1) writeAll(fd, c.packet(2, 1, wire::kStatusOk, r.body));
      if (r.ver == 0 && r.cmd == wire::kCmdReconn) {
        writeAll(fd, c.packet(0, wire::kCmdReconn, wire::kStatusOk, migrateAnswerBody(target())));
        ::shutdown(fd, SHUT_WR);
      }
      return true;
    });
  };
}

}  // namespace diarkis::test
