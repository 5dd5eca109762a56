// The receive high-water mark (docs/decisions.md, issue 11): the core's
// EventQueue counts a tracked client's undelivered bytes and resumes it at the
// low-water mark; the sans-I/O sessions stop counting liveness misses while
// paused, up to maxReceiveStallMs (fake clock); UDP refuses new reliable DATs
// (resent later, nothing lost) and drops unreliable ones (counted).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "events/event_queue.h"
#include "events/receive_backlog.h"
#include "rudp_sim.h"
#include "session/tcp_session.h"
#include "test_server.h"

namespace diarkis {
namespace {

Event pushOf(size_t bytes) {
  Event ev;
  ev.type = EventType::Push;
  ev.payload.assign(bytes, 0x5a);
  return ev;
}

TEST(ReceiveBacklog, DefaultsAreFourMiBAndOneMinute) {
  EXPECT_EQ(TcpOptions{}.receiveHighWaterMark, 4u << 20);
  EXPECT_EQ(UdpOptions{}.receiveHighWaterMark, 4u << 20);
  EXPECT_EQ(TcpOptions{}.maxReceiveStallMs, 60000);
  EXPECT_EQ(UdpOptions{}.maxReceiveStallMs, 60000);
  ReceiveBacklog b(TcpOptions{}.receiveHighWaterMark);
  EXPECT_EQ(b.lowWaterMark(), 2u << 20);
}

TEST(ReceiveBacklog, TheQueueCountsATrackedClientAndResumesItOnceAtTheLowWaterMark) {
  EventQueue q;
  auto b = std::make_shared<ReceiveBacklog>(4000);
  int resumes = 0;
  b->resume = [&] { ++resumes; };
  q.push(7, pushOf(100));  // before tracking: counted when tracked
  q.track(7, b);
  EXPECT_EQ(b->bytes(), 100u);
  for (int i = 0; i < 39; ++i) q.push(7, pushOf(100));
  q.push(8, pushOf(5000));  // another client's bytes are not ours
  EXPECT_EQ(b->bytes(), 4000u);
  ASSERT_TRUE(b->over());
  ASSERT_TRUE(b->armPause());  // the network side pauses
  std::vector<QueuedEvent> out;
  q.take(out, 10);  // 3000 left: above the low-water mark (2000)
  EXPECT_EQ(resumes, 0);
  q.take(out, 10);  // 2000: resumed
  EXPECT_EQ(resumes, 1);
  q.take(out, 100);
  EXPECT_EQ(resumes, 1);  // once per pause
  EXPECT_EQ(b->bytes(), 0u);
}

TEST(ReceiveBacklog, APauseArmedAfterTheConsumerCaughtUpIsTakenBack) {
  EventQueue q;
  auto b = std::make_shared<ReceiveBacklog>(1000);
  int resumes = 0;
  b->resume = [&] { ++resumes; };
  q.track(1, b);
  for (int i = 0; i < 10; ++i) q.push(1, pushOf(100));
  ASSERT_TRUE(b->over());
  std::vector<QueuedEvent> out;
  q.take(out, 100);  // the consumer drains before the network side arms its pause
  EXPECT_FALSE(b->armPause());  // nothing to wait for: keep reading
  EXPECT_EQ(resumes, 0);
}

TEST(ReceiveBacklog, ForgetAndUntrackReleaseTheBytesWithoutAResume) {
  EventQueue q;
  auto b = std::make_shared<ReceiveBacklog>(1000);
  int resumes = 0;
  b->resume = [&] { ++resumes; };
  q.track(1, b);
  for (int i = 0; i < 12; ++i) q.push(1, pushOf(100));
  ASSERT_TRUE(b->armPause());
  q.untrack(1);
  EXPECT_EQ(b->bytes(), 0u);
  std::vector<QueuedEvent> out;
  q.take(out, 100);
  EXPECT_EQ(out.size(), 12u);  // the events stay for the consumer (who skips a released id)
  EXPECT_EQ(resumes, 0);
  auto c = std::make_shared<ReceiveBacklog>(1000);
  q.track(2, c);
  q.push(2, pushOf(300));
  q.forget(2);
  EXPECT_EQ(c->bytes(), 0u);
}

// --- TcpSession, fake clock ---

struct Tcp {
  explicit Tcp(TcpOptions o = {}) : opts(o), budget(stats, o.highWaterMark, o.maxQueuedBytes), s(opts, test::testKeys(), stats, budget) {
    s.start(0);
    s.onSocketConnected(0);
    auto reqs = flush();
    Bytes a = server.heartbeatAnswer(wire::kNodeOnline, reqs.at(0).timestamp);
    s.onData(a.data(), a.size(), 0);
    s.takeEvents(events);
  }
  std::vector<test::Request> flush() {
    const size_t n = s.outputSize();
    auto reqs = server.feed(s.output(), n);
    s.consumeOutput(n, now);
    return reqs;
  }
  void advanceTo(double t) {
    while (s.nextDeadline() <= t && !s.closed()) {
      now = s.nextDeadline();
      s.onTimer(now);
      flush();
      s.takeEvents(events);
    }
    now = t;
  }
  const Event* disconnect() const {
    for (const Event& e : events) {
      if (e.type == EventType::Disconnect) return &e;
    }
    return nullptr;
  }
  TcpOptions opts;
  Stats stats;
  SendBudget budget;
  TcpSession s;
  test::ServerCodec server;
  double now = 0;
  std::vector<Event> events;
};

TEST(ReceiveBacklogTcp, WhilePausedHeartbeatMissesDoNotCountUpToTheDefaultStall) {
  Tcp t;
  ASSERT_EQ(t.s.state(), ClientState::Connected);
  t.now = 1000;
  t.s.setReceivePaused(true, t.now);
  t.advanceTo(60999);  // 12 intervals without an answer (the limit is 3 when reading)
  EXPECT_EQ(t.disconnect(), nullptr);
  EXPECT_GE(t.stats.heartbeatsSent.load(), 12u);  // heartbeats still go out
  t.advanceTo(61000);
  ASSERT_NE(t.disconnect(), nullptr);
  EXPECT_EQ(t.disconnect()->code, ErrorCode::ReceiveStalled);
  EXPECT_EQ(t.s.nextDeadline(), TcpSession::kNoDeadline);
}

TEST(ReceiveBacklogTcp, AfterResumingTheHeartbeatsInFlightGetOneInterval) {
  TcpOptions o;
  o.maxReceiveStallMs = 100000;
  Tcp t(o);
  t.s.setReceivePaused(true, 0);
  t.advanceTo(40000);
  t.s.setReceivePaused(false, 40000);
  t.advanceTo(44999);
  EXPECT_EQ(t.disconnect(), nullptr);
  t.advanceTo(45000);  // no answer came within the interval after resuming
  ASSERT_NE(t.disconnect(), nullptr);
  EXPECT_EQ(t.disconnect()->code, ErrorCode::Timeout);
}

TEST(ReceiveBacklogTcp, AnAnswerAfterResumingKeepsTheConnection) {
  TcpOptions o;
  o.maxReceiveStallMs = 100000;
  Tcp t(o);
  t.s.setReceivePaused(true, 0);
  t.advanceTo(40000);
  auto reqs = t.flush();
  t.s.setReceivePaused(false, 40000);
  t.advanceTo(41000);
  Bytes a = t.server.heartbeatAnswer(wire::kNodeOnline, 40000);
  t.s.onData(a.data(), a.size(), t.now);
  t.advanceTo(55999);
  EXPECT_EQ(t.disconnect(), nullptr);
  EXPECT_EQ(t.s.state(), ClientState::Connected);
}

// --- UdpSession, fake clock, against the simulated server ---

UdpOptions udpOptions() {
  UdpOptions o;
  o.connectTimeoutMs = 3000;
  o.maxReceiveStallMs = 30000;
  return o;
}

void connect(rudp_test::Harness& h) {
  h.client.start(h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.client.state() == ClientState::Connected && h.server.handshaked(); }, 5000));
  h.runFor(200);
}

std::vector<uint32_t> pushSeqs(const rudp_test::Harness& h) {
  std::vector<uint32_t> out;
  for (const Event& e : h.events) {
    if (e.type == EventType::Push && e.cmd == 7) out.push_back(rudp_test::getU32(e.payload));
  }
  return out;
}

TEST(ReceiveBacklogUdp, PausedRefusesReliablePushesThatArriveAfterResumingInOrder) {
  rudp_test::Harness h(udpOptions(), {}, 31);
  connect(h);
  h.client.setReceivePaused(true, h.now);
  for (uint32_t i = 0; i < 20; ++i) h.server.push(2, 7, rudp_test::u32(i), h.now);
  h.runFor(3000);
  EXPECT_TRUE(pushSeqs(h).empty());
  EXPECT_GT(h.clientStats.receiveDeferred.load(), 0u);
  h.client.setReceivePaused(false, h.now);
  ASSERT_TRUE(h.runUntil([&] { return pushSeqs(h).size() == 20; }, 20000));
  const std::vector<uint32_t> seqs = pushSeqs(h);
  for (uint32_t i = 0; i < 20; ++i) EXPECT_EQ(seqs[i], i);
  EXPECT_EQ(h.client.state(), ClientState::Connected);
}

TEST(ReceiveBacklogUdp, PausedDropsUnreliablePushesAndCountsThem) {
  rudp_test::Harness h(udpOptions(), {}, 32);
  connect(h);
  h.client.setReceivePaused(true, h.now);
  for (uint32_t i = 0; i < 5; ++i) h.server.sendUnreliable(2, 7, wire::kStatusPush, rudp_test::u32(i));
  h.runFor(100);
  EXPECT_EQ(h.drops(DropReason::ReceiveBacklog), 5u);
  EXPECT_TRUE(pushSeqs(h).empty());
  h.client.setReceivePaused(false, h.now);
  h.server.sendUnreliable(2, 7, wire::kStatusPush, rudp_test::u32(9));
  h.runFor(100);
  ASSERT_EQ(pushSeqs(h).size(), 1u);
  EXPECT_EQ(pushSeqs(h)[0], 9u);
}

TEST(ReceiveBacklogUdp, EchoMissesDoNotCountWhilePausedUpToTheStall) {
  rudp_test::Harness h(udpOptions(), {}, 33);
  connect(h);
  const double pausedAt = h.now;
  h.client.setReceivePaused(true, h.now);
  h.runFor(29000);  // the echo limit is 15 s: the answers were refused by us
  EXPECT_EQ(h.client.state(), ClientState::Connected);
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 5000));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ReceiveStalled);
  EXPECT_GE(h.now, pausedAt + 30000);
}

TEST(ReceiveBacklogUdp, ResumedBeforeTheStallTheSessionLivesOn) {
  rudp_test::Harness h(udpOptions(), {}, 34);
  connect(h);
  h.client.setReceivePaused(true, h.now);
  h.runFor(25000);
  h.client.setReceivePaused(false, h.now);
  h.runFor(60000);
  EXPECT_EQ(h.client.state(), ClientState::Connected);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
}

}  // namespace
}  // namespace diarkis
