// Test helpers for migrations over loopback sockets: a blocking fake node on its
// own thread (FakeNode), request serving with ServerCodec, and an old node that
// answers the migrate request with a target. Shared by the C++ class tests
// (tcp_migration_loopback_test.cc) and the C ABI's (test/engines).
#pragma once
#include <functional>
#include <string>
#include <thread>

#include "diarkis/codec.h"
#include "io/socket_shim.h"
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

// One node on 127.0.0.1 serving one connection on its own thread with `serve`
// (a blocking socket).
class FakeNode {
 public:
  using Serve = std::function<void(SocketHandle fd)>;
  explicit FakeNode(Serve serve) : listen_(openSocket(AF_INET, SOCK_STREAM)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    setNonBlocking(listen_.get(), false);
    ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), len);
    ::listen(listen_.get(), 4);
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([raw = listen_.get(), serve = std::move(serve)] {
      UniqueSocket fd(::accept(raw, nullptr, nullptr));
      if (!fd) return;
      setNonBlocking(fd.get(), false);
      // Safety net: a stuck test ends instead of hanging.
#ifdef _WIN32
      const DWORD ms = 20000;
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof ms);
#else
      timeval tv{20, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
#endif
      serve(fd.get());
    });
  }
  ~FakeNode() {
    // Wakes accept() if nobody came: shutdown on Linux; Winsock needs the close.
#ifdef _WIN32
    listen_.reset();
#else
    ::shutdown(listen_.get(), SHUT_RDWR);
#endif
    thread_.join();
  }
  uint16_t port() const { return port_; }

 private:
  UniqueSocket listen_;
  uint16_t port_ = 0;
  std::thread thread_;
};

inline void writeAll(SocketHandle fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    const long n = sendBytes(fd, b.data() + off, b.size() - off);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads requests until EOF, calling on(request); on returns false to stop.
inline void serveRequests(SocketHandle fd, const std::function<bool(ServerCodec&, const Request&)>& on) {
  ServerCodec codec;
  uint8_t buf[4096];
  for (;;) {
    const long n = recvBytes(fd, buf, sizeof buf);
    if (n <= 0) return;
    for (const Request& r : codec.feed(buf, static_cast<size_t>(n))) {
      if (!on(codec, r)) return;
    }
  }
}

// The old node: heartbeats answered, 2/1 echoed; the migrate request answered with
// `target` + kTicket, then half-closed; reads to EOF (the client's end).
inline FakeNode::Serve oldNode(std::function<std::string()> target) {
  return [target = std::move(target)](SocketHandle fd) {
    serveRequests(fd, [&](ServerCodec& c, const Request& r) {
      if (r.ver == 0 && r.cmd == wire::kCmdKeepAlive) writeAll(fd, c.heartbeatAnswer(wire::kNodeOnline, r.timestamp));
      if (r.ver == 2 && r.cmd == 1) writeAll(fd, c.packet(2, 1, wire::kStatusOk, r.body));
      if (r.ver == 0 && r.cmd == wire::kCmdReconn) {
        writeAll(fd, c.packet(0, wire::kCmdReconn, wire::kStatusOk, migrateAnswerBody(target())));
        shutdownWrite(fd);
      }
      return true;
    });
  };
}

}  // namespace diarkis::test
