// DiarkisTcpBase over real loopback sockets against TestServer (test_server.h).
// Waits are on events; the time bounds are generous safety nets only.
#include "diarkis/tcp_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/runtime_impl.h"
#include "test_server.h"

namespace diarkis {
namespace {

using namespace std::chrono_literals;
constexpr auto kSafety = 20s;

struct Rec {
  EventType type;
  ErrorCode code = ErrorCode::None;
  uint8_t ver = 0;
  uint16_t cmd = 0;
  uint8_t status = 0;
  std::string payload;
};

Rec mk(EventType t, ErrorCode code = ErrorCode::None) {
  Rec r{};
  r.type = t;
  r.code = code;
  return r;
}

class Recorder : public DiarkisTcpBase {
 public:
  explicit Recorder(std::shared_ptr<Runtime> rt, TcpOptions o = {}) : DiarkisTcpBase(std::move(rt), o) {}
  ~Recorder() override { Detach(); }

  // Runs on the network thread after each event is recorded (set before Connect).
  std::function<void(Recorder&, const Rec&)> hook;

  bool waitFor(const std::function<bool(const std::vector<Rec>&)>& pred) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, kSafety, [&] { return pred(recs_); });
  }
  bool waitCount(EventType t, size_t n) {
    return waitFor([&](const std::vector<Rec>& r) { return countOf(r, t) >= n; });
  }
  std::vector<Rec> records() {
    std::lock_guard<std::mutex> lk(mu_);
    return recs_;
  }
  static size_t countOf(const std::vector<Rec>& r, EventType t) {
    size_t n = 0;
    for (const Rec& x : r) n += x.type == t;
    return n;
  }
  size_t count(EventType t) { return countOf(records(), t); }
  ErrorCode send(uint8_t ver, uint16_t cmd, const std::string& s, bool* writable = nullptr) {
    return Send(ver, cmd, reinterpret_cast<const uint8_t*>(s.data()), s.size(), writable);
  }

 protected:
  void OnConnect(bool) override { add(mk(EventType::Connect)); }
  void OnDisconnect(ErrorCode reason, const std::string&) override {
    add(mk(EventType::Disconnect, reason));
  }
  void OnOffline() override { add(mk(EventType::Offline)); }
  void OnResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* p, size_t n) override {
    add({EventType::Response, ErrorCode::None, ver, cmd, status, std::string(p, p + n)});
  }
  void OnPush(uint8_t ver, uint16_t cmd, const uint8_t* p, size_t n) override {
    add({EventType::Push, ErrorCode::None, ver, cmd, wire::kStatusPush, std::string(p, p + n)});
  }
  void OnHeartbeat(double) override { add(mk(EventType::Heartbeat)); }
  void OnDrain() override { add(mk(EventType::Drain)); }
  void OnError(ErrorCode code, const std::string&) override { add(mk(EventType::Error, code)); }

 private:
  void add(Rec r) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      recs_.push_back(r);
    }
    cv_.notify_all();
    // The hook may Detach or even delete *this (and with it `hook`): call a copy,
    // and touch nothing after it.
    auto h = hook;
    if (h) h(*this, r);
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Rec> recs_;
};

// Polls a condition that has no event of its own (e.g. the runtime's client count).
bool eventually(const std::function<bool()>& cond) {
  const auto end = std::chrono::steady_clock::now() + kSafety;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class TcpClientTest : public ::testing::Test {
 protected:
  void TearDown() override { rt->shutdown(); }
  std::unique_ptr<Recorder> connected(TcpOptions o = {}) {
    auto c = std::make_unique<Recorder>(rt, o);
    EXPECT_EQ(c->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
    EXPECT_TRUE(c->waitCount(EventType::Connect, 1));
    return c;
  }
  std::shared_ptr<Runtime> rt = Runtime::create();
  test::TestServer server;
};

TEST_F(TcpClientTest, ConnectsWhenTheHeartbeatIsAnswered) {
  auto c = connected();
  EXPECT_EQ(c->State(), ClientState::Connected);
  EXPECT_TRUE(c->waitCount(EventType::Heartbeat, 1));
  EXPECT_EQ(rt->activeClients(), 1u);
  const StatsSnapshot s = c->GetStats();
  EXPECT_GE(s.heartbeatsSent, 1u);
  EXPECT_GE(s.heartbeatsAnswered, 1u);
  EXPECT_GT(s.bytesReceived, 0u);
}

TEST_F(TcpClientTest, RequestResponseRoundTripsInOrder) {
  auto c = connected();
  for (int i = 0; i < 200; ++i) ASSERT_EQ(c->send(2, 1, "msg" + std::to_string(i)), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Response, 200));
  int i = 0;
  for (const Rec& r : c->records()) {
    if (r.type != EventType::Response) continue;
    EXPECT_EQ(r.ver, 2);
    EXPECT_EQ(r.cmd, 1);
    EXPECT_EQ(r.status, wire::kStatusOk);
    EXPECT_EQ(r.payload, "msg" + std::to_string(i++));
  }
  EXPECT_GE(c->GetStats().packetsSent, 201u);
  EXPECT_EQ(c->GetStats().queuedBytes, 0u);
  EXPECT_FALSE(server.protocolErrors());
}

TEST_F(TcpClientTest, SendsMadeWhileConnectingArriveAfterTheHeartbeat) {
  auto c = std::make_unique<Recorder>(rt);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  ASSERT_EQ(c->send(2, 1, "early"), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Response, 1));
  const auto recs = c->records();
  EXPECT_EQ(recs.front().type, EventType::Connect);
  EXPECT_FALSE(server.protocolErrors());
}

TEST_F(TcpClientTest, PushesArrive) {
  auto c = connected();
  ASSERT_EQ(c->send(2, 3, "push-me"), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Push, 1));
  server.broadcast([](test::ServerCodec& codec) { return codec.push(0, wire::kCmdNotification, Bytes{1, 2}); });
  ASSERT_TRUE(c->waitCount(EventType::Push, 2));
  const auto recs = c->records();
  std::vector<Rec> pushes;
  for (const Rec& r : recs) {
    if (r.type == EventType::Push) pushes.push_back(r);
  }
  EXPECT_EQ(pushes[0].cmd, 3);
  EXPECT_EQ(pushes[0].payload, "push-me");
  EXPECT_EQ(pushes[1].cmd, wire::kCmdNotification);
}

TEST_F(TcpClientTest, OfflineNoticeRaisesOffline) {
  auto c = connected();
  server.broadcast([](test::ServerCodec& codec) { return codec.offlineNotice(); });
  ASSERT_TRUE(c->waitCount(EventType::Offline, 1));
}

TEST_F(TcpClientTest, ServerCloseIsClosedByServer) {
  auto c = connected();
  server.closeAll();
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->records().back().code, ErrorCode::ClosedByServer);
  EXPECT_EQ(c->State(), ClientState::Closed);
  EXPECT_TRUE(eventually([&] { return rt->activeClients() == 0; }));
  EXPECT_EQ(c->send(2, 1, "late"), ErrorCode::NotConnected);
}

TEST_F(TcpClientTest, FinThenCloseReportsTheReason) {
  auto c = connected();
  server.broadcast([](test::ServerCodec& codec) { return codec.fin("kicked"); });
  server.closeAll();
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->records().back().code, ErrorCode::Kicked);
}

TEST_F(TcpClientTest, ConnectToAClosedPortIsRefused) {
  auto c = std::make_unique<Recorder>(rt);
  ASSERT_EQ(c->Connect("127.0.0.1", test::closedPort(), test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->records().back().code, ErrorCode::Refused);
  EXPECT_EQ(c->count(EventType::Connect), 0u);
}

TEST_F(TcpClientTest, Ipv6NumericHostsAreAccepted) {
  auto c = std::make_unique<Recorder>(rt);
  ASSERT_EQ(c->Connect("[::1]", test::closedPort(), test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  const ErrorCode code = c->records().back().code;
  // Refused where ::1 exists, a network error on hosts without IPv6.
  EXPECT_TRUE(code == ErrorCode::Refused || code == ErrorCode::NetworkError) << errorCodeName(code);
}

TEST_F(TcpClientTest, BadArgumentsAndReuseAreRejected) {
  Recorder c(rt);
  EXPECT_EQ(c.Connect("localhost", 80, test::testKeys()), ErrorCode::InvalidArgument);
  EXPECT_EQ(c.Connect("127.0.0.1", 0, test::testKeys()), ErrorCode::InvalidArgument);
  EXPECT_EQ(c.send(2, 1, "x"), ErrorCode::NotConnected);
  EXPECT_EQ(c.State(), ClientState::Idle);
  ASSERT_EQ(c.Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  EXPECT_EQ(c.Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::NotConnected);
  ASSERT_TRUE(c.waitCount(EventType::Connect, 1));
  std::string big(2u << 20, 'x');
  EXPECT_EQ(c.send(2, 1, big), ErrorCode::PayloadTooLarge);
}

TEST_F(TcpClientTest, ConnectTimesOutWhenTheHeartbeatIsNotAnswered) {
  server.answerHeartbeats = false;
  TcpOptions o;
  o.connectTimeoutMs = 100;
  auto c = std::make_unique<Recorder>(rt, o);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->records().back().code, ErrorCode::ConnectTimeout);
}

TEST_F(TcpClientTest, HeartbeatsKeepGoingOnTheNetworkThread) {
  TcpOptions o;
  o.heartbeatIntervalMs = 10;
  o.heartbeatMissLimit = 1000;  // a slow host must not turn this into a timeout
  auto c = connected(o);
  EXPECT_TRUE(c->waitCount(EventType::Heartbeat, 5));
  EXPECT_EQ(c->State(), ClientState::Connected);
}

TEST_F(TcpClientTest, DrainFollowsASendPastTheHighWaterMark) {
  TcpOptions o;
  o.highWaterMark = 64;
  auto c = connected(o);
  bool writable = true;
  ASSERT_EQ(c->send(2, 1, std::string(200, 'w'), &writable), ErrorCode::None);
  EXPECT_FALSE(writable);
  ASSERT_TRUE(c->waitCount(EventType::Drain, 1));
  ASSERT_TRUE(c->waitCount(EventType::Response, 1));
  EXPECT_EQ(c->GetStats().queuedBytes, 0u);
}

TEST_F(TcpClientTest, GracefulDisconnectFlushesFirst) {
  auto c = connected();
  const size_t before = server.requestsSeen();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(c->send(2, 2, "fire-and-forget"), ErrorCode::None);
  c->Disconnect(true);
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->records().back().code, ErrorCode::ClosedByUser);
  EXPECT_TRUE(eventually([&] { return server.requestsSeen() >= before + 50; }));
}

TEST_F(TcpClientTest, AbortDisconnectReportsClosedByUser) {
  auto c = connected();
  c->Disconnect(false);
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->records().back().code, ErrorCode::ClosedByUser);
  EXPECT_EQ(c->State(), ClientState::Closed);
}

TEST_F(TcpClientTest, DetachFromInsideACallbackStopsFurtherCallbacks) {
  auto c = std::make_unique<Recorder>(rt);
  c->hook = [](Recorder& self, const Rec& r) {
    if (r.type == EventType::Connect) self.Detach();
  };
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Connect, 1));
  EXPECT_TRUE(eventually([&] { return rt->activeClients() == 0; }));
  rt->shutdown();  // joined: nothing more can arrive
  const auto recs = c->records();
  ASSERT_EQ(recs.size(), 1u) << "the Heartbeat after Connect was dropped";
}

TEST_F(TcpClientTest, DeletingAClientInsideItsCallbackIsSafe) {
  std::mutex mu;
  std::condition_variable cv;
  bool deleted = false;
  auto* c = new Recorder(rt);
  c->hook = [&](Recorder& self, const Rec& r) {
    if (r.type != EventType::Push) return;
    delete &self;  // more pushes are already on their way
    std::lock_guard<std::mutex> lk(mu);
    deleted = true;
    cv.notify_all();
  };
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(c->send(2, 1, "x"), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Response, 20));
  // From here on the test thread does not touch c: the network thread deletes it.
  server.broadcast([](test::ServerCodec& codec) {
    Bytes all;
    for (int i = 0; i < 5; ++i) {
      Bytes p = codec.push(2, 7, Bytes{static_cast<uint8_t>(i)});
      all.insert(all.end(), p.begin(), p.end());
    }
    return all;
  });
  std::unique_lock<std::mutex> lk(mu);
  ASSERT_TRUE(cv.wait_for(lk, kSafety, [&] { return deleted; }));
  lk.unlock();
  EXPECT_TRUE(eventually([&] { return rt->activeClients() == 0; }));
}

TEST_F(TcpClientTest, DestroyingManyClientsWhileTrafficFlows) {
  std::vector<std::unique_ptr<Recorder>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<Recorder>(rt));
    ASSERT_EQ(clients.back()->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  }
  for (auto& c : clients) ASSERT_TRUE(c->waitCount(EventType::Connect, 1));
  std::atomic<bool> stop{false};
  std::vector<Recorder*> raw;
  for (auto& c : clients) raw.push_back(c.get());
  std::mutex liveMu;
  std::vector<bool> live(raw.size(), true);
  std::thread sender([&] {
    const std::string body(300, 's');
    while (!stop) {
      {
        std::lock_guard<std::mutex> lk(liveMu);
        for (size_t i = 0; i < raw.size(); ++i) {
          if (!live[i]) continue;
          raw[i]->send(2, 1, body);
          raw[i]->send(2, 3, body);
        }
      }
      // Let the network thread run: under valgrind threads share one lock, and a sender that
      // never yields starves the thread that must deliver the pushes this test waits for.
      std::this_thread::yield();
    }
  });
  ASSERT_TRUE(clients[0]->waitCount(EventType::Push, 20));
  for (size_t i = 0; i < clients.size(); ++i) {
    {
      std::lock_guard<std::mutex> lk(liveMu);
      live[i] = false;
    }
    clients[i].reset();  // destroyed while its responses are in flight
  }
  stop = true;
  sender.join();
  EXPECT_TRUE(eventually([&] { return rt->activeClients() == 0; }));
}

TEST_F(TcpClientTest, ManyClientsShareOneNetworkThread) {
  TcpOptions o;
  o.heartbeatIntervalMs = 50;  // every client's timer runs through the one heap
  o.heartbeatMissLimit = 1000;  // slow hosts (valgrind) must not turn this into a timeout test
  std::vector<std::unique_ptr<Recorder>> clients;
  for (int i = 0; i < 300; ++i) {
    clients.push_back(std::make_unique<Recorder>(rt, o));
    ASSERT_EQ(clients.back()->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
    ASSERT_EQ(clients.back()->send(2, 1, "id" + std::to_string(i)), ErrorCode::None);
  }
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(clients[i]->waitCount(EventType::Response, 1));
    ASSERT_TRUE(clients[i]->waitCount(EventType::Heartbeat, 3));
    for (const Rec& r : clients[i]->records()) {
      if (r.type == EventType::Response) {
        EXPECT_EQ(r.payload, "id" + std::to_string(i));
      }
    }
  }
  EXPECT_EQ(rt->activeClients(), 300u);
}

TEST_F(TcpClientTest, ShutdownWithClientsAttached) {
  std::vector<std::unique_ptr<Recorder>> clients;
  for (int i = 0; i < 10; ++i) clients.push_back(connected());
  for (auto& c : clients) ASSERT_EQ(c->send(2, 1, "in flight"), ErrorCode::None);
  rt->shutdown();
  EXPECT_EQ(rt->activeClients(), 0u);
  std::vector<size_t> counts;
  for (auto& c : clients) {
    EXPECT_EQ(c->State(), ClientState::Closed);
    counts.push_back(c->records().size());
    EXPECT_EQ(c->send(2, 1, "after"), ErrorCode::NotConnected);
    c->Disconnect(true);
  }
  rt->shutdown();  // idempotent
  bool ran = false;
  rt->post([&] { ran = true; });  // dropped after shutdown
  EXPECT_FALSE(ran);
  for (size_t i = 0; i < clients.size(); ++i) EXPECT_EQ(clients[i]->records().size(), counts[i]);
  clients.clear();  // Detach after shutdown is safe
}

TEST(Runtime, PostRunsInOrderOnTheNetworkThread) {
  auto rt = Runtime::create();
  EXPECT_FALSE(rt->onNetworkThread());
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> seen;
  bool allOnThread = true;
  for (int i = 0; i < 100; ++i) {
    rt->post([&, i] {
      std::lock_guard<std::mutex> lk(mu);
      allOnThread = allOnThread && rt->onNetworkThread();
      seen.push_back(i);
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, kSafety, [&] { return seen.size() == 100; }));
  }
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  EXPECT_TRUE(allOnThread);
  rt->shutdown();
  rt->shutdown();
}

TEST(Runtime, ClockIsMonotonic) {
  const double a = Runtime::nowMs();
  const double b = Runtime::nowMs();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace diarkis

namespace diarkis {
namespace {

TEST_F(TcpClientTest, SendMigrateAfterCloseAnswersNotConnectedAtOnce) {
  auto c = connected();
  // Hold the network thread so that the close below is still queued (the state
  // still says connected) when SendMigrate runs: the race, made deterministic.
  std::mutex mu;
  std::condition_variable cv;
  bool held = false, released = false;
  ASSERT_TRUE(runtimeImpl(*rt).postLoop(0, [&](Loop&) {
    std::unique_lock<std::mutex> lk(mu);
    held = true;
    cv.notify_all();
    cv.wait(lk, [&] { return released; });
  }));
  {
    std::unique_lock<std::mutex> lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, kSafety, [&] { return held; }));
  }
  c->Disconnect(true);
  EXPECT_EQ(c->State(), ClientState::Connected);  // not yet run
  EXPECT_EQ(c->SendMigrate(), ErrorCode::NotConnected);
  {
    std::lock_guard<std::mutex> lk(mu);
    released = true;
  }
  cv.notify_all();
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->records().back().code, ErrorCode::ClosedByUser);
}

}  // namespace
}  // namespace diarkis
