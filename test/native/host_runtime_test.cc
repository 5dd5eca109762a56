// HostRuntime (the host-loop driver's core) over real loopback sockets against
// TestServer, driven by a tiny host on the test's own thread (the platform's
// poller: epoll, WSAPoll), the way the Node addon drives it from libuv. Runs
// under ASan/UBSan with the rest, and under wine.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "diarkis/tcp_client.h"
#include "io/poller.h"
#include "poll_host.h"
#include "test_server.h"

namespace diarkis {
namespace {

using test::PollHost;

// Records events; single-threaded (the host's thread), so no locks.
class Client final : public DiarkisTcpBase {
 public:
  Client(std::shared_ptr<Runtime> rt, TcpOptions o = {}) : DiarkisTcpBase(std::move(rt), o) {}
  ~Client() override { Detach(); }
  std::vector<EventType> events;
  std::vector<std::string> responses;
  std::function<void(Client&)> onResponse;
  size_t count(EventType t) const { return static_cast<size_t>(std::count(events.begin(), events.end(), t)); }
  ErrorCode send(const std::string& s) { return Send(2, 1, reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

 protected:
  void OnConnect(bool) override { events.push_back(EventType::Connect); }
  void OnDisconnect(ErrorCode, const std::string&) override { events.push_back(EventType::Disconnect); }
  void OnHeartbeat(double) override { events.push_back(EventType::Heartbeat); }
  void OnResponse(uint8_t, uint16_t, uint8_t, const uint8_t* p, size_t n) override {
    events.push_back(EventType::Response);
    responses.emplace_back(p, p + n);
    if (onResponse) onResponse(*this);
  }
};

class HostRuntimeTest : public ::testing::Test {
 protected:
  void TearDown() override { rt->shutdown(); }
  std::unique_ptr<Client> connected(TcpOptions o = {}) {
    auto c = std::make_unique<Client>(rt, o);
    EXPECT_EQ(c->Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
    EXPECT_TRUE(host.runUntil(*rt, [&] { return c->count(EventType::Connect) == 1; }));
    return c;
  }
  PollHost host;
  std::shared_ptr<HostRuntime> rt = HostRuntime::create(&host);
  test::TestServer server;
};

TEST_F(HostRuntimeTest, RequestsRoundTripInOrderOnTheHostsThread) {
  auto c = connected();
  EXPECT_EQ(host.watched(), 1u);
  EXPECT_FALSE(std::isinf(host.timer()));  // the heartbeat is armed
  for (int i = 0; i < 300; ++i) ASSERT_EQ(c->send("m" + std::to_string(i)), ErrorCode::None);
  ASSERT_TRUE(host.runUntil(*rt, [&] { return c->responses.size() == 300; }));
  for (int i = 0; i < 300; ++i) EXPECT_EQ(c->responses[i], "m" + std::to_string(i));
  c->Disconnect(true);
  ASSERT_TRUE(host.runUntil(*rt, [&] { return c->count(EventType::Disconnect) == 1; }));
  EXPECT_EQ(host.watched(), 0u);
  EXPECT_EQ(rt->activeClients(), 0u);
}

// The Node addon's batched path: many SendInPlace, one SettleSends, in order; a
// refusal in the middle queues nothing; inside a handler (busy loop) it is Send.
TEST_F(HostRuntimeTest, SendInPlaceQueuesUntilSettleSendsAndKeepsOrder) {
  TcpOptions o;
  o.maxQueuedBytes = 64 * 1024;
  auto c = connected(o);
  auto inPlace = [&](const std::string& s, bool* writable = nullptr) {
    return c->SendInPlace(2, 1, reinterpret_cast<const uint8_t*>(s.data()), s.size(), writable);
  };
  for (int i = 0; i < 200; ++i) ASSERT_EQ(inPlace("b" + std::to_string(i)), ErrorCode::None);
  EXPECT_FALSE(host.flushRequested()) << "nothing written or scheduled before SettleSends";
  const uint64_t queued = c->QueuedBytes();
  EXPECT_GT(queued, 0u);
  EXPECT_EQ(inPlace(std::string(80 * 1024, 'x')), ErrorCode::QueueFull);
  EXPECT_EQ(c->QueuedBytes(), queued) << "a refused send queues nothing";
  bool writable = false;
  ASSERT_EQ(inPlace("last", &writable), ErrorCode::None);
  EXPECT_TRUE(writable);
  c->SettleSends();
  EXPECT_TRUE(host.flushRequested());
  ASSERT_TRUE(host.runUntil(*rt, [&] { return c->responses.size() == 201; }));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(c->responses[i], "b" + std::to_string(i));
  EXPECT_EQ(c->responses[200], "last");
  EXPECT_EQ(c->QueuedBytes(), 0u);
  c->onResponse = [&](Client& self) {
    if (self.responses.size() == 202) {
      const std::string s = "nested";
      EXPECT_EQ(self.SendInPlace(2, 1, reinterpret_cast<const uint8_t*>(s.data()), s.size()), ErrorCode::None);
    }
  };
  ASSERT_EQ(inPlace("again"), ErrorCode::None);
  c->SettleSends();
  ASSERT_TRUE(host.runUntil(*rt, [&] { return c->responses.size() == 203; }));
  EXPECT_EQ(c->responses[202], "nested");
  c->Disconnect(true);
  ASSERT_TRUE(host.runUntil(*rt, [&] { return c->count(EventType::Disconnect) == 1; }));
  EXPECT_EQ(inPlace("closed"), ErrorCode::NotConnected);
}

TEST_F(HostRuntimeTest, SendsAndDetachFromInsideACallbackWaitForTheCallbackToEnd) {
  auto c = connected();
  int chained = 0;
  c->onResponse = [&](Client& self) {
    if (++chained < 50) {
      EXPECT_EQ(self.send("next"), ErrorCode::None);  // queued until the handler returns
    } else {
      self.Detach();  // no callback after this one
    }
  };
  ASSERT_EQ(c->send("first"), ErrorCode::None);
  ASSERT_TRUE(host.runUntil(*rt, [&] { return chained == 50; }));
  ASSERT_TRUE(host.runUntil(*rt, [&] { return host.watched() == 0; }));
  EXPECT_EQ(c->count(EventType::Response), 50u);
  EXPECT_EQ(c->count(EventType::Disconnect), 0u);
}

TEST_F(HostRuntimeTest, AnOverdueTimerReadsTheSocketBeforeJudgingLiveness) {
  TcpOptions o;
  o.heartbeatIntervalMs = 50;
  o.heartbeatMissLimit = 2;
  auto c = connected(o);
  // Run until a heartbeat went out, then stall the host (a blocked JS thread)
  // while the server answers it.
  const uint64_t sent = c->GetStats().heartbeatsSent;
  ASSERT_TRUE(host.runUntil(*rt, [&] { return c->GetStats().heartbeatsSent > sent; }));
  // It was written at the end of that turn: its answer cannot have been read yet.
  const uint64_t answered = c->GetStats().heartbeatsAnswered;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the stall itself, not a wait for an event
  rt->onTimer();  // libuv runs timers before it polls: no onReady before this
  EXPECT_GT(c->GetStats().heartbeatsAnswered, answered);
  EXPECT_EQ(c->count(EventType::Disconnect), 0u);
  EXPECT_EQ(c->State(), ClientState::Connected);
}

TEST_F(HostRuntimeTest, ShutdownUnwatchesEverySocketWithoutCallbacks) {
  auto a = connected();
  auto b = connected();
  EXPECT_EQ(host.watched(), 2u);
  rt->shutdown();
  EXPECT_EQ(host.watched(), 0u);
  EXPECT_EQ(a->count(EventType::Disconnect), 0u);
  EXPECT_EQ(a->send("late"), ErrorCode::NotConnected);
  rt->onTimer();  // a host callback after shutdown is ignored
  rt->flush();
}

}  // namespace
}  // namespace diarkis
