// Echo liveness of the client's UdpSession under a fake clock (docs/decisions.md,
// "UDP keepalive liveness"): the miss timeout counts from the last sign of life
// (an authenticated packet or an ACK of our DAT), an echo stuck behind a full
// send window is not a miss, and a dead peer is still caught by either rule. The
// owner learns when a timer would judge silence, to read its socket first.
#include <gtest/gtest.h>

#include <utility>

#include "rudp_sim.h"

namespace diarkis {
namespace {

using rudp_test::Harness;

UdpOptions baseOptions() {
  UdpOptions o;
  o.connectTimeoutMs = 3000;
  return o;
}

bool connected(Harness& h) { return h.client.state() == ClientState::Connected; }

void connect(Harness& h) {
  h.client.start(h.now);
  ASSERT_TRUE(h.runUntil([&] { return connected(h) && h.server.handshaked(); }, 5000));
  h.runFor(200);  // the first echo is answered and acknowledged
  ASSERT_EQ(h.count(EventType::Echo), 1u);
}

// Every later datagram in this direction is lost.
void cut(rudp_test::Link& dir) {
  rudp_test::Link dead({1.0, 0, 0, 20}, 99);
  std::swap(dir, dead);
}

TEST(RudpLiveness, SilentPeerTimesOutAfterThreeIntervals) {
  Harness h(baseOptions(), {}, 14);
  connect(h);
  const double lastHeard = h.now;  // nothing arrives after this (upper bound of the last arrival)
  cut(h.down);
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 60000));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
  EXPECT_EQ(h.last(EventType::Disconnect)->message, "no echo answer");
  EXPECT_LE(h.now, lastHeard + 3 * 5000);
  EXPECT_GT(h.now, lastHeard + 3 * 5000 - 200);
  EXPECT_EQ(h.clientStats.heartbeatsSent.load(), 4u);  // at connect, then at 5, 10, 15 s minus a hair
}

TEST(RudpLiveness, AcksOfOurDataProveLifeWithoutEchoAnswers) {
  Harness h(baseOptions(), {}, 21);
  connect(h);
  h.server.answerEcho = false;  // the echoes are acknowledged, never answered
  h.runFor(60000);
  EXPECT_TRUE(connected(h));
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  EXPECT_GE(h.clientStats.heartbeatsSent.load(), 12u);
  EXPECT_EQ(h.clientStats.heartbeatsAnswered.load(), 1u);  // only the first one
}

TEST(RudpLiveness, AuthenticatedPushesProveLife) {
  UdpOptions o = baseOptions();
  o.echoIntervalMs = 1000;
  // A peer on the wire schedule keeps pushing with no ACK coming back (the
  // adaptive sender would stop at its congestion window); the client alike.
  o.adaptive = false;
  Harness h(o, {}, 22);
  connect(h);
  cut(h.up);  // nothing of ours arrives: no ACKs and no echo answers come back
  for (int i = 0; i < 10; ++i) {
    h.server.push(2, 7, rudp_test::u32(static_cast<uint32_t>(i)), h.now);
    h.runFor(900);
  }
  // 9 s without an echo answer or an ACK (the limit is 3 s), but a push every 0.9 s.
  // The client's own DATs do not time out yet: retries 1, 2, 4, 8 s.
  EXPECT_TRUE(connected(h));
  EXPECT_EQ(h.count(EventType::Push), 10u);
  const double lastPush = h.now - 900;
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 60000));  // pushes stop: the limit applies
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
  EXPECT_EQ(h.last(EventType::Disconnect)->message, "no echo answer");
  EXPECT_LE(h.now, lastPush + 3 * 1000 + 100);
}

// judgesSilenceAt(t) (the owner reads its socket before such a timer) holds from exactly
// the time at which onTimer ends the session for the server's silence, never before.
double firstVerdictAt(Harness& h) {
  double t = h.now;
  while (!h.client.judgesSilenceAt(t) && t < h.now + 120000) t += 1;
  return t;
}

TEST(RudpLiveness, TheSilenceVerdictIsKnownToTheOwnerBeforeTheTimerRunsIt) {
  Harness h(baseOptions(), {}, 31);
  connect(h);
  const double lastHeard = h.now;
  cut(h.down);
  const double verdict = firstVerdictAt(h);
  EXPECT_LE(verdict, lastHeard + 3 * 5000);
  EXPECT_GT(verdict, lastHeard + 3 * 5000 - 200);
  h.runFor(verdict - 1 - h.now);
  EXPECT_TRUE(connected(h));
  EXPECT_FALSE(h.client.judgesSilenceAt(h.now));
  h.runFor(2);
  ASSERT_TRUE(h.client.closed());
  EXPECT_EQ(h.last(EventType::Disconnect)->message, "no echo answer");
  EXPECT_FALSE(h.client.judgesSilenceAt(h.now + 1e6));  // closed: nothing left to judge
}

TEST(RudpLiveness, TheConnectVerdictIsKnownToTheOwnerToo) {
  Harness h(baseOptions(), {}, 32);
  cut(h.up);  // no SYN reaches the server
  h.client.start(h.now);
  const double verdict = firstVerdictAt(h);
  EXPECT_EQ(verdict, h.now + 3000);  // connectTimeoutMs
  h.runFor(verdict - 1 - h.now);
  EXPECT_FALSE(h.client.closed());
  h.runFor(2);
  ASSERT_TRUE(h.client.closed());
  EXPECT_EQ(h.last(EventType::Disconnect)->message, "no SYN answer");
}

UdpOptions stallOptions(uint32_t maxRetries) {
  UdpOptions o = baseOptions();
  o.sendWindow = 1;     // one DAT in flight: a lost one holds every later send, the echo too
  o.adaptive = false;   // resends after 1, 2, 4, 8, 8, ... s
  o.packDelayMs = 0;    // exact times below
  o.ackDelayMs = 0;
  o.maxRetries = maxRetries;
  return o;
}

TEST(RudpLiveness, EchoBehindStalledWindowIsNotMissed) {
  Harness h(stallOptions(10), {}, 23);
  connect(h);
  cut(h.up);
  const uint8_t body[1] = {1};
  ASSERT_EQ(h.client.send(2, 1, body, 1, true, h.now), ErrorCode::None);
  const double sentAt = h.now;
  // 20 s with nothing from the server (it gets nothing): more than 3 echo intervals, but
  // the echoes wait behind the unacknowledged DAT, so they are not missed.
  h.runFor(20000);
  EXPECT_TRUE(connected(h));
  EXPECT_GT(h.client.channel().queued(), 0u);
  rudp_test::Link clean(rudp_test::Conditions{}, 5);
  std::swap(h.up, clean);
  // The resend at sentAt + 1 + 2 + 4 + 8 + 8 s gets through; the echoes follow and are answered.
  ASSERT_TRUE(h.runUntil([&] { return h.server.requests.size() == 1; }, 10000));
  EXPECT_GE(h.now, sentAt + 23000);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Echo) >= 2; }, 2000));
  h.runFor(20000);
  EXPECT_TRUE(connected(h));
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
}

TEST(RudpLiveness, DeadPeerBehindStalledWindowTimesOutByRetries) {
  Harness h(stallOptions(4), {}, 24);
  connect(h);
  cut(h.up);
  cut(h.down);
  const uint8_t body[1] = {1};
  ASSERT_EQ(h.client.send(2, 1, body, 1, true, h.now), ErrorCode::None);
  const double sentAt = h.now;
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 120000));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
  EXPECT_EQ(h.last(EventType::Disconnect)->message, "no acknowledgement after maxRetries resends");
  EXPECT_EQ(h.now, sentAt + 1000 + 2000 + 4000 + 8000 + 8000);
}

}  // namespace
}  // namespace diarkis
