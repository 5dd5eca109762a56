// Migration through DiarkisTcpBase over loopback sockets: an old node and a target,
// each a blocking fake on its own thread (ServerCodec). Covers what the fake-clock
// tests (tcp_migration_test.cc) cannot: the socket swap on the network thread, the
// old socket's drain, the connect to the target. Waits are on events; the time
// bounds are generous safety nets only.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "diarkis/tcp_client.h"
#include "fake_node.h"
#include "test_server.h"

namespace diarkis {
namespace {

using test::Request;
using test::bytesOf;
using test::FakeNode;
using test::kTicket;
using test::oldNode;
using test::serveRequests;
using test::textOf;
using test::writeAll;

TcpOptions migrationOptions() {
  TcpOptions o;
  o.rngSeed = 42;
  o.handoffTtlMs = 3000;
  o.migrateRetryMinMs = 100;
  o.migrateRetryMaxMs = 800;
  return o;
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
  FakeNode target([](SocketHandle fd) {
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
