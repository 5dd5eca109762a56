// DiarkisUdpBase over a real loopback UDP socket against the simulated RUDP
// server of rudp_sim.h, run on its own thread. Waits are on events; the time
// bounds are generous safety nets only.
#include "diarkis/udp_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/runtime_impl.h"
#include "io/udp_connection.h"
#include "io/poller.h"
#include "io/socket_shim.h"
#include "queue_sink.h"
#include "rudp_sim.h"
#include "udp_loopback_server.h"

namespace diarkis {
namespace {

using namespace std::chrono_literals;
constexpr auto kSafety = 20s;

using test::LoopbackServer;
using test::Rec;
using test::UdpRecorder;

// Polls a condition that has no event of its own (the server's side, client counts).
bool eventually(const std::function<bool()>& cond) {
  const auto end = std::chrono::steady_clock::now() + kSafety;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class UdpClientTest : public ::testing::Test {
 protected:
  void TearDown() override { rt->shutdown(); }
  std::unique_ptr<UdpRecorder> connected() {
    auto c = std::make_unique<UdpRecorder>(rt, options);
    EXPECT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
    EXPECT_TRUE(c->waitCount(EventType::Connect, 1));
    return c;
  }
  static UdpOptions makeOptions() {
    UdpOptions o;
    o.retryMinMs = 50;  // loopback never loses, but a safety net must not be slow
    o.retryMaxMs = 200;
    return o;
  }
  UdpOptions options = makeOptions();
  std::shared_ptr<Runtime> rt = Runtime::create();
  LoopbackServer server{options};
};

TEST_F(UdpClientTest, HandshakeThenEchoReportsThePublicAddress) {
  auto c = connected();
  EXPECT_EQ(c->State(), ClientState::Connected);
  ASSERT_TRUE(c->waitCount(EventType::Echo, 1));
  EXPECT_EQ(c->of(EventType::Echo)[0].text, "203.0.113.7:40000");
  EXPECT_GE(c->GetStats().heartbeatsAnswered, 1u);
}

TEST_F(UdpClientTest, ReliableRequestsRoundTripInOrder) {
  auto c = connected();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(c->rsend(1, "m" + std::to_string(i)), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Response, 50));
  const auto rs = c->of(EventType::Response);
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(rs[i].text, "m" + std::to_string(i));
}

TEST_F(UdpClientTest, ReliableSendsWhileConnectingWaitForTheHandshake) {
  auto c = std::make_unique<UdpRecorder>(rt, options);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
  EXPECT_EQ(c->rsend(1, "early"), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Response, 1));
  EXPECT_EQ(c->of(EventType::Response)[0].text, "early");
}

TEST_F(UdpClientTest, FragmentedRequestAndPushArriveWhole) {
  auto c = connected();
  std::string big(5000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_EQ(c->rsend(4, big), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Response, 1));
  EXPECT_EQ(c->of(EventType::Response)[0].text, big);
  server.with([&](rudp_test::SimServer& s) {
    s.push(2, 3, Bytes(big.begin(), big.end()), Runtime::nowMs());
    s.push(2, 3, Bytes{'h', 'i'}, Runtime::nowMs());
    return 0;
  });
  ASSERT_TRUE(c->waitCount(EventType::Push, 2));
  EXPECT_EQ(c->of(EventType::Push)[0].text, big);
  EXPECT_EQ(c->of(EventType::Push)[1].text, "hi");
}

TEST_F(UdpClientTest, UnreliableSendIsOneDatagram) {
  auto c = std::make_unique<UdpRecorder>(rt, options);
  EXPECT_EQ(c->send(1, "x"), ErrorCode::NotConnected);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Connect, 1));
  EXPECT_EQ(c->send(1, std::string(2000, 'y')), ErrorCode::PayloadTooLarge);
  ASSERT_EQ(c->send(1, "u1"), ErrorCode::None);
  // The reliable request after it shows the datagram had time to arrive (same path, in order).
  ASSERT_EQ(c->rsend(1, "r"), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Response, 1));
  ASSERT_TRUE(eventually([&] { return server.unreliable().size() == 1; }));
}

TEST_F(UdpClientTest, PayloadLimitsAndBadArguments) {
  UdpOptions o = options;
  o.maxPayload = 1024;
  auto c = std::make_unique<UdpRecorder>(rt, o);
  EXPECT_EQ(c->Connect("not-an-ip", server.port(), rudp_test::testKeys()), ErrorCode::InvalidArgument);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
  EXPECT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::NotConnected);
  EXPECT_EQ(c->rsend(1, std::string(2000, 'z')), ErrorCode::PayloadTooLarge);
  EXPECT_EQ(c->RSend(2, 1, nullptr, 3), ErrorCode::InvalidArgument);
}

TEST_F(UdpClientTest, QueueLimitsAnswerAtOnceAndDrainFollowsTheAcks) {
  server.with([](rudp_test::SimServer& s) {
    s.answerSyn = false;  // hold the reliable sends locally for now
    return 0;
  });
  options.highWaterMark = 300;
  options.maxQueuedBytes = 1000;
  auto c = std::make_unique<UdpRecorder>(rt, options);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
  const std::string body(200, 'q');
  bool writable = true;
  ASSERT_EQ(c->RSend(2, 1, reinterpret_cast<const uint8_t*>(body.data()), body.size(), &writable), ErrorCode::None);
  EXPECT_TRUE(writable);
  ASSERT_EQ(c->RSend(2, 1, reinterpret_cast<const uint8_t*>(body.data()), body.size(), &writable), ErrorCode::None);
  EXPECT_FALSE(writable);  // past the high-water mark
  ASSERT_EQ(c->RSend(2, 1, reinterpret_cast<const uint8_t*>(body.data()), body.size(), &writable), ErrorCode::None);
  EXPECT_EQ(c->rsend(1, std::string(400, 'r')), ErrorCode::QueueFull);
  server.with([](rudp_test::SimServer& s) {
    s.answerSyn = true;
    return 0;
  });
  ASSERT_TRUE(c->waitCount(EventType::Response, 3));
  ASSERT_TRUE(c->waitCount(EventType::Drain, 1));
  EXPECT_TRUE(eventually([&] { return c->GetStats().queuedBytes == 0; }));
}

// Holds the network thread inside a command until release() (or destruction).
class NetworkThreadHold {
 public:
  explicit NetworkThreadHold(Runtime& rt) {
    runtimeImpl(rt).postLoop(0, [this](Loop&) {
      std::unique_lock<std::mutex> lk(mu_);
      held_ = true;
      cv_.notify_all();
      cv_.wait(lk, [this] { return released_; });
    });
  }
  ~NetworkThreadHold() { release(); }
  bool held() {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, kSafety, [this] { return held_; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;
};

TEST_F(UdpClientTest, ATightUnreliableSendLoopIsBoundedByTheSendBudget) {
  options.highWaterMark = 64 * 1024;
  options.maxQueuedBytes = 256 * 1024;
  auto c = connected();
  NetworkThreadHold hold(*rt);  // as a busy network thread would be: nothing drains
  ASSERT_TRUE(hold.held());
  const std::string body(1000, 'u');
  size_t accepted = 0, full = 0, notWritable = 0;
  for (int i = 0; i < 20000; ++i) {
    bool writable = true;
    const ErrorCode rc = c->Send(2, 1, reinterpret_cast<const uint8_t*>(body.data()), body.size(), &writable);
    if (rc == ErrorCode::QueueFull) {
      ++full;
      continue;
    }
    ASSERT_EQ(rc, ErrorCode::None);
    ++accepted;
    notWritable += !writable;
    ASSERT_LE(c->GetStats().queuedBytes, options.maxQueuedBytes);
  }
  EXPECT_GT(full, 0u);          // the budget, not the heap, stopped the loop
  EXPECT_GT(notWritable, 0u);   // and send() said so from the high-water mark on
  EXPECT_LT(accepted, 300u);    // ~256 KiB of ~1 KiB datagrams
  hold.release();
  ASSERT_TRUE(c->waitCount(EventType::Drain, 1));
  EXPECT_TRUE(eventually([&] { return c->GetStats().queuedBytes == 0; }));
  EXPECT_EQ(c->GetStats().sendDropped, 0u);  // far below the socket queue's cap
  EXPECT_TRUE(eventually([&] { return !server.unreliable().empty(); }));
}

TEST_F(UdpClientTest, PastTheSocketQueueCapUnreliableDatagramsAreDroppedCountedAndReliableOnesKept) {
  auto c = connected();  // default budget: 64 MiB
  NetworkThreadHold hold(*rt);
  ASSERT_TRUE(hold.held());
  const size_t burst = UdpConnection::kMaxPending + 2000;
  for (size_t i = 0; i < burst; ++i) ASSERT_EQ(c->send(1, "d"), ErrorCode::None);
  ASSERT_EQ(c->rsend(1, "after the burst"), ErrorCode::None);
  hold.release();  // one iteration now runs the whole burst into the socket queue
  ASSERT_TRUE(c->waitCount(EventType::Response, 1));
  EXPECT_EQ(c->of(EventType::Response)[0].text, "after the burst");
  const StatsSnapshot st = c->GetStats();
  EXPECT_GE(st.sendDropped, 2000u);  // counted, never silent
  EXPECT_LE(st.sendDropped, burst);
  EXPECT_TRUE(eventually([&] { return c->GetStats().queuedBytes == 0; }));
}

TEST_F(UdpClientTest, GracefulDisconnectSendsFin) {
  auto c = connected();
  ASSERT_EQ(c->rsend(1, "last"), ErrorCode::None);
  c->Disconnect(true);
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->of(EventType::Disconnect)[0].code, ErrorCode::ClosedByUser);
  EXPECT_EQ(c->State(), ClientState::Closed);
  EXPECT_TRUE(eventually([&] { return server.with([](rudp_test::SimServer& s) { return s.finReceived; }); }));
  EXPECT_TRUE(server.with([](rudp_test::SimServer& s) { return s.requests.size() == 1; }));
  EXPECT_EQ(c->rsend(1, "after"), ErrorCode::NotConnected);
}

TEST_F(UdpClientTest, ServerFinIsClosedByServer) {
  auto c = connected();
  server.with([](rudp_test::SimServer& s) {
    s.sendFin();
    return 0;
  });
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->of(EventType::Disconnect)[0].code, ErrorCode::ClosedByServer);
  EXPECT_TRUE(eventually([&] { return rt->activeClients() == 0; }));
}

TEST_F(UdpClientTest, UnansweredSynTimesOut) {
  server.with([](rudp_test::SimServer& s) {
    s.answerSyn = false;
    return 0;
  });
  options.connectTimeoutMs = 100;
  options.synIntervalMs = 20;
  auto c = std::make_unique<UdpRecorder>(rt, options);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  EXPECT_EQ(c->of(EventType::Disconnect)[0].code, ErrorCode::ConnectTimeout);
  EXPECT_GE(server.with([](rudp_test::SimServer& s) { return s.synCount; }), 2u);
}

TEST_F(UdpClientTest, DetachWhileConnectedSendsFinAndNoCallbacks) {
  auto c = connected();
  c.reset();  // Detach: abandon() closes with a FIN, silently
  EXPECT_TRUE(eventually([&] { return server.with([](rudp_test::SimServer& s) { return s.finReceived; }); }));
}

// A host's sink (as the Node addon's): responses go to its queue, not to OnResponse,
// and its consumer falling behind by receiveHighWaterMark pauses the client, whose
// reliable DATs are then refused and resent after the take that resumes it.
class SinkRecorder : public UdpRecorder {
 public:
  using UdpRecorder::UdpRecorder;
  using DiarkisUdpBase::ReceiveBacklogOf;
  using DiarkisUdpBase::SetPacketSink;
};

TEST_F(UdpClientTest, WithAPacketSinkResponsesGoToTheQueueAndItsBacklogPausesReading) {
  options.receiveHighWaterMark = 2048;
  options.echoIntervalMs = 60000;  // no echo answer packed with the responses but the first
  auto c = std::make_unique<SinkRecorder>(rt, options);
  auto sink = std::make_shared<test::QueueSink>();
  sink->q.track(c->Id(), c->ReceiveBacklogOf());
  c->SetPacketSink(sink);
  ASSERT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(c->waitCount(EventType::Connect, 1));
  // A response read in the same DAT as the echo answer would follow its Echo event as an Event.
  ASSERT_TRUE(c->waitCount(EventType::Echo, 1));
  auto message = [](int i) { return "m" + std::to_string(i) + std::string(100, '.'); };
  for (int i = 0; i < 100; ++i) ASSERT_EQ(c->rsend(1, message(i)), ErrorCode::None);
  ASSERT_TRUE(eventually([&] { return c->GetStats().receivePauses >= 1; }));  // nothing taken yet
  EXPECT_LT(sink->q.bytesFor(c->Id()), 2048u + 1024u);  // paused near the mark, not after all 10 KB
  std::vector<std::string> got;
  ASSERT_TRUE(eventually([&] {
    QueueBatch out;
    sink->q.take(out, 1000);  // the consumer: its take resumes the client
    for (const QueueRow& r : out.rows) {
      EXPECT_EQ(r.type, EventType::Response);
      got.push_back(test::payloadOf(out, r));
    }
    return got.size() >= 100;
  }));
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], message(i));
  EXPECT_TRUE(c->of(EventType::Response).empty());
  EXPECT_GT(c->GetStats().receiveDeferred, 0u);  // refused while paused, resent
  c->Disconnect();
  ASSERT_TRUE(c->waitCount(EventType::Disconnect, 1));
  sink->q.untrack(c->Id());
}

}  // namespace
}  // namespace diarkis
