// ReliableChannel under a fake clock: the wire retry policy, timeouts,
// window queueing, receiver ordering/duplicates/window, the first-message rule.
#include <gtest/gtest.h>

#include <set>

#include "rudp/reliable.h"
#include "rudp_channel_fixture.h"

namespace diarkis {
namespace rudp {
namespace {

using RudpReliable = ChannelTest;

uint32_t seqOf(const Bytes& d) { return uint32_t{d[0]} | (uint32_t{d[1]} << 8) | (uint32_t{d[2]} << 16); }

ReliableConfig fixedConfig() {
  ReliableConfig c;
  c.retryMinMs = 1000;
  c.retryMaxMs = 8000;
  c.maxRetries = 10;
  return c;
}

// Drives the timer to each deadline; returns the times at which RDATs went out.
std::vector<double> resendTimes(ReliableChannel& ch, double until) {
  std::vector<double> times;
  while (!ch.timedOut()) {
    const double t = ch.nextDeadline();
    if (t > until) break;
    ch.onTimer(t);
    if (take(ch).count(Flag::Rdat) > 0) times.push_back(t);
  }
  return times;
}

TEST_F(RudpReliable, FixedPolicyDoublesToMaxThenTimesOut) {
  ReliableChannel& ch = open(fixedConfig());
  ch.send(Bytes{1, 2, 3}, false, 0);
  Out first = take(ch);
  ASSERT_EQ(first.count(Flag::Dat), 1u);
  EXPECT_EQ(first.dg[0], (Bytes{0, 0, 0, 3, 1, 2, 3}));
  const std::vector<double> times = resendTimes(ch, 1e9);
  const std::vector<double> want = {1000, 3000, 7000, 15000, 23000, 31000, 39000, 47000, 55000, 63000};
  EXPECT_EQ(times, want);
  EXPECT_TRUE(ch.timedOut());  // the deadline after the 10th resend (71000) passed unanswered
  EXPECT_EQ(stats.retransmits.load(), 10u);
  EXPECT_EQ(ch.nextDeadline(), ReliableChannel::kNoDeadline);
}

TEST_F(RudpReliable, MaxRetriesTimeoutIsExact) {
  ReliableConfig c = fixedConfig();
  c.maxRetries = 2;
  ReliableChannel& ch = open(c);
  ch.send(Bytes{9}, false, 0);
  take(ch);
  ch.onTimer(1000);
  ch.onTimer(3000);
  EXPECT_FALSE(ch.timedOut());
  EXPECT_EQ(ch.nextDeadline(), 7000);
  ch.onTimer(6999.9);
  EXPECT_FALSE(ch.timedOut());
  ch.onTimer(7000);
  EXPECT_TRUE(ch.timedOut());
}

TEST_F(RudpReliable, RdatCarriesTheSameSeqAndBody) {
  ReliableChannel& ch = open(fixedConfig(), 0xFFFFFF);
  ch.send(Bytes{7}, false, 0);
  take(ch);
  ch.onTimer(1000);
  Out o = take(ch);
  ASSERT_EQ(o.dg.size(), 1u);
  EXPECT_EQ(o.dg[0], (Bytes{0xFF, 0xFF, 0xFF, 5, 7}));
}

TEST_F(RudpReliable, SendWindowQueuesTheRest) {
  ReliableConfig c = fixedConfig();
  c.sendWindow = 4;
  ReliableChannel& ch = open(c, 100);
  for (uint8_t i = 0; i < 10; ++i) ch.send(Bytes{i}, true, 0, true);  // solo: one DAT each
  Out o = take(ch);
  ASSERT_EQ(o.count(Flag::Dat), 4u);
  EXPECT_EQ(seqOf(o.dg[3]), 103u);
  EXPECT_EQ(ch.inFlight(), 4u);
  EXPECT_EQ(ch.queued(), 6u);
  ch.onAck(AckRecord{100, false}, 5);
  o = take(ch);
  ASSERT_EQ(o.count(Flag::Dat), 1u);
  EXPECT_EQ(seqOf(o.dg[0]), 104u);
  // The window counts unacknowledged DATs: an ACK out of order frees a place too.
  ch.onAck(AckRecord{102, false}, 6);
  o = take(ch);
  ASSERT_EQ(o.count(Flag::Dat), 1u);
  EXPECT_EQ(seqOf(o.dg[0]), 105u);
  ch.onAck(AckRecord{101, false}, 7);
  o = take(ch);
  EXPECT_EQ(o.count(Flag::Dat), 1u);
  EXPECT_EQ(ch.takeReleasedBytes(), 3u);
  EXPECT_EQ(ch.queued(), 3u);
  // An ACK for an already-acked seq is the peer repeating its latest records:
  // ignored, not counted; one for a DAT never sent is counted. Both harmless.
  ch.onAck(AckRecord{101, false}, 8);
  ch.onAck(AckRecord{5000, false}, 8);
  EXPECT_EQ(stats.drops[static_cast<size_t>(DropReason::Duplicate)].load(), 1u);
}

TEST_F(RudpReliable, ReceiverDeliversInOrderExactlyOnceAndAcksEverything) {
  ReliableConfig c = fixedConfig();
  c.recvWindow = 8;
  c.ackSuffix = Bytes(16, 0xEE);
  ReliableChannel& ch = make(c);
  const uint32_t s = 0xFFFFFE;  // the stream wraps through 0
  ch.start(0, s, 0);
  auto feed = [&](uint32_t k, bool rdat) {
    const uint8_t b = static_cast<uint8_t>(k);
    ch.onData(seqAdd(s, k), rdat, &b, 1, 0);
  };
  feed(2, false);
  feed(1, false);
  feed(2, true);  // duplicate while buffered
  std::vector<Bytes> got;
  ch.takeDelivered(got);
  EXPECT_TRUE(got.empty());
  feed(0, false);
  ch.takeDelivered(got);
  ASSERT_EQ(got.size(), 3u);
  for (uint8_t i = 0; i < 3; ++i) EXPECT_EQ(got[i], Bytes{i});
  feed(1, true);  // already delivered: acked again (RACK), dropped
  ch.takeDelivered(got);
  EXPECT_EQ(got.size(), 3u);
  Out o = take(ch);
  ASSERT_EQ(o.dg.size(), 1u);  // all records packed in one datagram
  ASSERT_EQ(o.dg[0].size(), 5u * 20u);
  EXPECT_EQ(o.dg[0][3], static_cast<uint8_t>(Flag::Ack));
  EXPECT_EQ(o.dg[0][2 * 20 + 3], static_cast<uint8_t>(Flag::Rack));
  EXPECT_EQ(o.dg[0][4 * 20 + 3], static_cast<uint8_t>(Flag::Rack));
  EXPECT_EQ(stats.drops[static_cast<size_t>(DropReason::Duplicate)].load(), 2u);
  // Beyond the window: neither buffered nor acknowledged, so the peer resends.
  feed(3 + 8, false);
  EXPECT_EQ(take(ch).dg.size(), 0u);
  EXPECT_EQ(stats.drops[static_cast<size_t>(DropReason::OutOfWindow)].load(), 1u);
  feed(3 + 7, false);  // the last slot of the window is fine
  EXPECT_EQ(take(ch).dg.size(), 1u);
}

TEST_F(RudpReliable, ManyAcksArePackedUnderTheDatagramLimit) {
  ReliableConfig c = fixedConfig();
  c.ackSuffix = Bytes(16, 1);
  ReliableChannel& ch = open(c);
  const uint8_t b = 0;
  for (uint32_t k = 0; k < 150; ++k) ch.onData(k, false, &b, 1, 0);
  Out o = take(ch);
  std::set<uint32_t> seqs;
  for (const Bytes& d : o.dg) {
    EXPECT_LE(d.size(), 1404u);
    EXPECT_EQ(d.size() % 20, 0u);
    for (size_t r = 0; r < d.size(); r += 20) seqs.insert(uint32_t{d[r]} | (uint32_t{d[r + 1]} << 8));
  }
  EXPECT_EQ(seqs.size(), 150u);
  ASSERT_EQ(o.dg.size(), 3u);  // 70 + 70 + 10, the last with 8 records of the second again
  EXPECT_EQ(o.dg[2].size(), 18u * 20u);
}

TEST_F(RudpReliable, TheLatestAckRecordsAreRepeatedInTheNextAckDatagrams) {
  // ACK records are per DAT (no cumulative acknowledgement): a lost ACK datagram
  // is covered by the next one, which repeats the latest 8 records sent.
  ReliableChannel& ch = open(fixedConfig());
  const uint8_t b = 0;
  auto acked = [](const Out& o) {
    std::vector<uint32_t> s;
    for (const Bytes& d : o.dg) {
      for (size_t r = 0; r + 4 <= d.size(); r += 4) s.push_back(d[r] | (d[r + 1] << 8) | (d[r + 2] << 16) | (d[r + 3] == static_cast<uint8_t>(Flag::Rack) ? 0x1000000u : 0u));
    }
    return s;
  };
  ch.onData(0, false, &b, 1, 0);
  EXPECT_EQ(acked(take(ch)), (std::vector<uint32_t>{0}));
  ch.onData(1, false, &b, 1, 1);
  ch.onData(2, true, &b, 1, 1);
  EXPECT_EQ(acked(take(ch)), (std::vector<uint32_t>{1, 2 | 0x1000000u, 0}));  // new ones, then the repeat
  for (uint32_t k = 3; k < 13; ++k) {
    ch.onData(k, false, &b, 1, 2);
    take(ch);
  }
  ch.onData(13, false, &b, 1, 3);
  EXPECT_EQ(acked(take(ch)), (std::vector<uint32_t>{13, 12, 11, 10, 9, 8, 7, 6, 5}));  // the latest 8 only
  EXPECT_TRUE(take(ch).dg.empty());  // nothing new: no datagram of repeats alone
}

TEST_F(RudpReliable, FirstMessageGoesAsDatAndRdatAndOnlyRackClearsIt) {
  ReliableConfig c = fixedConfig();
  c.firstNeedsRack = true;
  ReliableChannel& ch = make(c);
  const uint32_t s = 0x00ABCD;
  ch.start(s, 0, 0);
  ch.send(Bytes{1}, false, 0);
  Out o = take(ch);
  ASSERT_EQ(o.dg.size(), 2u);
  EXPECT_EQ(o.dg[0], (Bytes{0xCD, 0xAB, 0x00, 3, 1}));
  EXPECT_EQ(o.dg[1], (Bytes{0xCD, 0xAB, 0x00, 5, 1}));
  ch.onAck(AckRecord{s, false}, 10);  // the handshake ACK S looks like this
  EXPECT_EQ(ch.inFlight(), 1u);
  ch.onAck(AckRecord{s, true}, 20);
  EXPECT_TRUE(ch.idle());
  EXPECT_FALSE(ch.hasRttSample());
  ch.send(Bytes{2}, false, 30);
  o = take(ch);
  ASSERT_EQ(o.dg.size(), 1u);  // later seqs go once
  ch.onAck(AckRecord{seqAdd(s, 1), false}, 40);  // and ACK clears them
  EXPECT_TRUE(ch.idle());
}

TEST_F(RudpReliable, NothingGoesOutBeforeStart) {
  ReliableChannel& ch = make(fixedConfig());
  ch.send(Bytes{1}, false, 0);
  EXPECT_EQ(take(ch).dg.size(), 0u);
  EXPECT_EQ(ch.nextDeadline(), ReliableChannel::kNoDeadline);
  const uint8_t b = 0;
  ch.onData(0, false, &b, 1, 0);
  EXPECT_EQ(take(ch).dg.size(), 0u);
  ch.start(0, 0, 0);  // the queued body goes out now, as seq 0
  Out o = take(ch);
  ASSERT_EQ(o.count(Flag::Dat), 1u);
  EXPECT_EQ(o.dg[0], (Bytes{0, 0, 0, 3, 1}));
  ch.send(Bytes{2}, false, 1);
  EXPECT_EQ(take(ch).count(Flag::Dat), 1u);
}

TEST_F(RudpReliable, SenderWrapsThroughZero) {
  ReliableChannel& ch = open(fixedConfig(), 0xFFFFFD);
  for (uint8_t i = 0; i < 6; ++i) ch.send(Bytes{i}, false, 0, true);
  Out o = take(ch);
  ASSERT_EQ(o.dg.size(), 6u);
  const uint32_t want[6] = {0xFFFFFD, 0xFFFFFE, 0xFFFFFF, 0, 1, 2};
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(seqOf(o.dg[i]), want[i]);
  for (uint32_t s : {2u, 0xFFFFFFu, 0u, 0xFFFFFDu, 1u, 0xFFFFFEu}) ch.onAck(AckRecord{s, false}, 10);
  EXPECT_TRUE(ch.idle());
  EXPECT_EQ(stats.drops[static_cast<size_t>(DropReason::Duplicate)].load(), 0u);
}

TEST_F(RudpReliable, ForgetOutgoingReleasesBudgetedBytes) {
  ReliableConfig c = fixedConfig();
  c.sendWindow = 1;
  ReliableChannel& ch = open(c);
  ch.send(Bytes(10, 0), true, 0);
  ch.send(Bytes(5, 0), true, 0);
  ch.send(Bytes(7, 0), false, 0);
  ch.forgetOutgoing();
  EXPECT_EQ(ch.takeReleasedBytes(), 15u);
  EXPECT_TRUE(ch.idle());
}

}  // namespace
}  // namespace rudp
}  // namespace diarkis
