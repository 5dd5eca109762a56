// The pack rule on the thread driver's settings (UdpOptions' defaults, also the C ABI's): a
// partly filled DAT waits packDelayMs for company only while DATs of ours are unacknowledged
// and the peer has sent nothing new since our latest. A peer that paces its ACKs (our node:
// 4 ms) answers a lone request before it acknowledges it; the next lone request must not wait
// the pack delay for that ACK (it did: ~900 echoes/s at 1 in flight). A burst still packs.
#include <gtest/gtest.h>

#include "diarkis/udp_options.h"
#include "rudp/reliable.h"
#include "rudp_channel_out.h"
#include "rudp_sim.h"

namespace diarkis {
namespace {

using rudp::Flag;
using rudp::Out;
using rudp::ReliableChannel;
using rudp::ReliableConfig;
using rudp::take;

ReliableConfig threadDriver() {
  const UdpOptions o;  // the thread driver keeps the defaults (bindings/node/udp_client_wrap.cc)
  ReliableConfig c;
  c.adaptive = o.adaptive;
  c.packDelayMs = o.packDelayMs;
  c.ackDelayMs = o.ackDelayMs;
  return c;
}

const uint8_t kAnswer[64] = {7};

TEST(RudpAnsweredPack, ALoneRequestAfterAnAnsweredOneLeavesAtOnce) {
  const ReliableConfig c = threadDriver();
  ASSERT_GT(c.packDelayMs, 0.0);
  Stats stats;
  ReliableChannel ch(c, stats);
  ch.start(0, 0, 0);
  double t = 0;
  for (uint32_t i = 0; i < 20; ++i) {
    ch.send(Bytes(80, static_cast<uint8_t>(i)), true, t);
    EXPECT_TRUE(ch.flushDue()) << i;  // the owner's flush at the end of this iteration sends it
    EXPECT_EQ(take(ch).count(Flag::Dat), 1u) << i;
    t += 0.05;
    ch.onData(i, false, kAnswer, sizeof kAnswer, t);  // its answer; the peer's ACK comes later
    take(ch);
    t += 0.05;
  }
  EXPECT_EQ(ch.inFlight(), 20u);  // none acknowledged: each went on its predecessor's answer alone
  ch.send(Bytes(80, 1), true, t);
  EXPECT_EQ(take(ch).count(Flag::Dat), 1u);  // request 19 was answered
  // Without an answer, a lone request still waits for company while ours are in flight.
  t += 0.05;
  ch.send(Bytes(80, 2), true, t);
  EXPECT_FALSE(ch.flushDue());
  EXPECT_EQ(take(ch).count(Flag::Dat), 0u);
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), t + c.packDelayMs);
  // A duplicate is no answer (a lost ACK of ours); a new DAT is.
  ch.onData(0, false, kAnswer, sizeof kAnswer, t + 0.1);
  EXPECT_EQ(take(ch).count(Flag::Dat), 0u);
  ch.onData(20, false, kAnswer, sizeof kAnswer, t + 0.2);
  EXPECT_TRUE(ch.flushDue());
  EXPECT_EQ(take(ch).count(Flag::Dat), 1u);
}

// 40 requests of 100 bytes reach the network thread one command at a time, each followed by
// the owner's flush: the first goes at once (the peer answered what we sent), the rest share
// DATs of 14 (1400 bytes): 1 + 2 full + 1 partial after the pack delay, not 40.
TEST(RudpAnsweredPack, ABurstAfterAnAnswerStillPacks) {
  const ReliableConfig c = threadDriver();
  Stats stats;
  ReliableChannel ch(c, stats);
  ch.start(0, 0, 0);
  ch.send(Bytes(100, 1), true, 0);
  ASSERT_EQ(take(ch).count(Flag::Dat), 1u);
  ch.onData(0, false, kAnswer, sizeof kAnswer, 0.1);
  take(ch);
  size_t dats = 0;
  double t = 0.2;
  for (int i = 0; i < 40; ++i, t += 0.002) {
    ch.send(Bytes(100, 2), true, t);
    ch.onTimer(t);
    Out o;
    ch.takeDatagrams(o.dg);
    dats += o.count(Flag::Dat);
  }
  EXPECT_EQ(dats, 3u);  // the first alone, then two full DATs of 14
  EXPECT_EQ(ch.queued(), 11u);
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), 0.2 + 0.002 + c.packDelayMs);  // queued since the second
  ch.onTimer(ch.nextDeadline());
  Out rest = take(ch);
  ASSERT_EQ(rest.count(Flag::Dat), 1u);
  EXPECT_EQ(rest.dg[0].size(), rudp::kHeaderSize + 11 * 100);
  EXPECT_EQ(ch.inFlight(), 5u);
}

// The same through the client's UdpSession with its default options, against a simulated
// server whose ACKs come 4 ms after its answers: 50 echoes one at a time take about a round
// trip each (0.1 ms here), not the pack delay (1 ms) each, one DAT per request.
TEST(RudpAnsweredPack, TheSessionAsksAgainAtOnceAgainstAPeerThatPacesItsAcks) {
  UdpOptions o;
  o.connectTimeoutMs = 3000;
  rudp_test::Conditions net;
  net.delayMs = 0.05;
  rudp_test::Harness h(o, net, 1);
  h.serverAckHoldMs = 4;
  h.client.start(h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.client.state() == ClientState::Connected && h.server.handshaked(); }, 5000));
  h.runFor(10);  // the handshake's acknowledgements settle
  const size_t datsBefore = static_cast<size_t>(std::count_if(
      h.clientSent.begin(), h.clientSent.end(), [](const Bytes& d) { return rudp_test::flagOf(d) == Flag::Dat; }));
  const double start = h.now;
  const Bytes body(64, 5);
  for (size_t i = 0; i < 50; ++i) {
    ASSERT_EQ(h.client.send(2, 1, body.data(), body.size(), true, h.now), ErrorCode::None);
    ASSERT_TRUE(h.runUntil([&] { return h.server.requests.size() == i + 1; }, 100)) << i;
    h.server.sendPacket(2, 1, wire::kStatusOk, body, h.now);
    ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Response) == i + 1; }, 100)) << i;
  }
  const double elapsed = h.now - start;
  EXPECT_LT(elapsed, 50 * 0.3) << "each request waited for the peer's paced ACK";
  const size_t dats = static_cast<size_t>(std::count_if(
      h.clientSent.begin(), h.clientSent.end(), [](const Bytes& d) { return rudp_test::flagOf(d) == Flag::Dat; }));
  EXPECT_EQ(dats - datsBefore, 50u);
}

}  // namespace
}  // namespace diarkis
