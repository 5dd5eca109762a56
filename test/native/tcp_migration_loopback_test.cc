// Migration through DiarkisTcpBase over loopback sockets: an old node and a target,
// each a blocking fake on its own thread (ServerCodec). Covers what the fake-clock
// tests (tcp_migration_test.cc) cannot: the socket swap on the network thread, the
// old socket's drain, the connect to the target. Waits are on events; the time
// bounds are generous safety nets only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "diarkis/tcp_client.h"
#include "test_server.h"

namespace diarkis {
namespace {

using test::Request;

Bytes bytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string textOf(const Bytes& b) { return std::string(b.begin(), b.end()); }

const Bytes kTicket = bytesOf("0123456789abcdef");

Bytes migrateAnswerBody(const std::string& addr) {
  Bytes b;
  b.push_back(static_cast<uint8_t>(addr.size() >> 8));
  b.push_back(static_cast<uint8_t>(addr.size()));
  for (char c : addr) b.push_back(static_cast<uint8_t>(c));
  for (uint8_t t : kTicket) b.push_back(t);
  return b;
}

TcpOptions migrationOptions() {
  TcpOptions o;
  o.rngSeed = 42;
  o.handoffTtlMs = 3000;
  o.migrateRetryMinMs = 100;
  o.migrateRetryMaxMs = 800;
  return o;
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

void writeAll(int fd, const Bytes& b) {
  size_t off = 0;
  while (off < b.size()) {
    const ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads requests until EOF, calling on(request); on returns false to stop.
void serveRequests(int fd, const std::function<bool(test::ServerCodec&, const Request&)>& on) {
  test::ServerCodec codec;
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
FakeNode::Serve oldNode(std::function<std::string()> target) {
  return [target = std::move(target)](int fd) {
    serveRequests(fd, [&](test::ServerCodec& c, const Request& r) {
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

class MigratingClient : public DiarkisTcpBase {
 public:
  MigratingClient(std::shared_ptr<Runtime> rt, TcpOptions o) : DiarkisTcpBase(std::move(rt), o) {}
  ~MigratingClient() override { Detach(); }

  bool waitFor(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(20), pred);
  }
  std::vector<std::string> log;  // under mu_
  MigrationInfo info;
  std::vector<UnsentPacket> unsentAtDisconnect;
  std::mutex mu_;

 protected:
  void OnConnect(bool reconnected) override { add(reconnected ? "reconnect" : "connect"); }
  void OnDisconnect(ErrorCode reason, const std::string&) override {
    unsentAtDisconnect = TakeUnsent();  // available when OnDisconnect runs
    add(std::string("disconnect:") + errorCodeName(reason));
  }
  void OnResponse(uint8_t, uint16_t cmd, uint8_t, const uint8_t* p, size_t n) override {
    add("resp" + std::to_string(cmd) + ":" + std::string(p, p + n));
  }
  void OnPush(uint8_t, uint16_t, const uint8_t* p, size_t n) override { add("push:" + std::string(p, p + n)); }
  void OnMigrated(const MigrationInfo& i) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      info = i;
    }
    add("migrated");
  }
  void OnError(ErrorCode code, const std::string&) override { add(std::string("error:") + errorCodeName(code)); }

 private:
  void add(std::string s) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      log.push_back(std::move(s));
    }
    cv_.notify_all();
  }
  std::condition_variable cv_;
};

bool has(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v) {
    if (x == s) return true;
  }
  return false;
}

TEST(TcpMigrationLoopback, SwapsSocketsAndSendsTheHeldRequestsToTheTarget) {
  FakeNode target([](int fd) {
    serveRequests(fd, [&](test::ServerCodec& c, const Request& r) {
      if (r.ver == 0 && r.cmd == wire::kCmdReconn) {
        EXPECT_EQ(r.body, kTicket);
        Bytes out = c.packet(0, wire::kCmdReconn, wire::kStatusOk, {});
        const Bytes held = c.push(2, 6, bytesOf("held-push"));
        out.insert(out.end(), held.begin(), held.end());
        writeAll(fd, out);
      } else if (r.ver == 2 && r.cmd == 1) {
        writeAll(fd, c.packet(2, 1, wire::kStatusOk, bytesOf("target:" + textOf(r.body))));
      }
      return true;
    });
  });
  const uint16_t tport = target.port();
  FakeNode old(oldNode([tport] { return "127.0.0.1:" + std::to_string(tport); }));
  auto rt = Runtime::create();
  MigratingClient c(rt, migrationOptions());
  ASSERT_EQ(c.Connect("127.0.0.1", old.port(), test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c.waitFor([&] { return has(c.log, "connect"); }));
  const std::string a = "a";
  ASSERT_EQ(c.Send(2, 1, reinterpret_cast<const uint8_t*>(a.data()), a.size()), ErrorCode::None);
  ASSERT_EQ(c.SendMigrate(), ErrorCode::None);
  const std::string b = "b";
  ASSERT_EQ(c.Send(2, 1, reinterpret_cast<const uint8_t*>(b.data()), b.size()), ErrorCode::None);
  ASSERT_TRUE(c.waitFor([&] { return has(c.log, "resp1:target:b"); }));
  std::lock_guard<std::mutex> lk(c.mu_);
  EXPECT_EQ(c.log, (std::vector<std::string>{"connect", "resp1:a", "reconnect", "migrated", "push:held-push",
                                             "resp1:target:b"}));
  EXPECT_EQ(c.info.from, "127.0.0.1:" + std::to_string(old.port()));
  EXPECT_EQ(c.info.to, "127.0.0.1:" + std::to_string(tport));
  EXPECT_EQ(c.State(), ClientState::Connected);
  EXPECT_EQ(c.GetStats().migrations, 1u);
  c.Disconnect(false);
}

TEST(TcpMigrationLoopback, UnreachableTargetEndsInMigrationFailedWithTheHeldRequests) {
  const uint16_t nobody = test::closedPort();
  FakeNode old(oldNode([nobody] { return "127.0.0.1:" + std::to_string(nobody); }));
  auto rt = Runtime::create();
  TcpOptions o = migrationOptions();
  o.handoffTtlMs = 300;
  o.migrateRetryMinMs = 10;
  o.migrateRetryMaxMs = 50;
  MigratingClient c(rt, o);
  ASSERT_EQ(c.Connect("127.0.0.1", old.port(), test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c.waitFor([&] { return has(c.log, "connect"); }));
  ASSERT_EQ(c.SendMigrate(), ErrorCode::None);
  const std::string b = "kept";
  ASSERT_EQ(c.Send(2, 9, reinterpret_cast<const uint8_t*>(b.data()), b.size()), ErrorCode::None);
  ASSERT_TRUE(c.waitFor([&] { return has(c.log, "disconnect:migration-failed"); }));
  std::lock_guard<std::mutex> lk(c.mu_);
  ASSERT_EQ(c.unsentAtDisconnect.size(), 1u);
  EXPECT_EQ(c.unsentAtDisconnect[0].cmd, 9);
  EXPECT_EQ(textOf(c.unsentAtDisconnect[0].body), "kept");
  EXPECT_EQ(c.GetStats().queuedBytes, 0u);
}

}  // namespace
}  // namespace diarkis
