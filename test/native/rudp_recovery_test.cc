// The adaptive sender under a fake clock: packing, RFC 6298 RTO and Karn's rule,
// RACK-style fast retransmit, the tail-loss probe, the congestion window, backoff
// that spares a live peer, the peer's receive span, and the lazy receive buffer.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "rudp/reliable.h"
#include "rudp_channel_fixture.h"

namespace diarkis {
namespace rudp {
namespace {

using RudpRecovery = ChannelTest;

ReliableConfig adaptive() {
  ReliableConfig c;  // the client's defaults (UdpOptions) but adaptive
  c.adaptive = true;
  return c;
}

// n DATs of one byte each, sent alone at `now`.
void sendSolo(ReliableChannel& ch, int n, double now) {
  for (int i = 0; i < n; ++i) ch.send(Bytes{static_cast<uint8_t>(i)}, false, now, true);
}

TEST_F(RudpRecovery, SmallBodiesArePackedUpToTheDatagramSizeAndWaitForTheFlush) {
  ReliableChannel& ch = open(adaptive());
  ch.send(Bytes(100, 1), true, 0);
  std::vector<Bytes> ready;
  ch.takeReadyDatagrams(ready);
  EXPECT_TRUE(ready.empty());      // one small body: waits for more in this turn
  EXPECT_TRUE(ch.hasUnflushed());
  for (int i = 0; i < 40; ++i) ch.send(Bytes(100, 2), true, 0);
  ch.takeReadyDatagrams(ready);    // 41 x 100 bytes: two full DATs of 14 are ready
  ASSERT_EQ(ready.size(), 2u);
  for (const Bytes& d : ready) EXPECT_EQ(d.size(), 4u + 1400u);
  Out rest = take(ch);             // the flush sends the partial third
  ASSERT_EQ(rest.count(Flag::Dat), 1u);
  EXPECT_EQ(rest.dg[0].size(), 4u + 1300u);
  EXPECT_FALSE(ch.hasUnflushed());
  for (uint32_t s = 0; s < 3; ++s) ch.onAck(AckRecord{s, false}, 10);
  EXPECT_EQ(ch.takeReleasedBytes(), 4100u);
  EXPECT_TRUE(ch.idle());
}

TEST_F(RudpRecovery, APartialDatAndAcksWaitTheirShortBoundForCompany) {
  ReliableConfig c = adaptive();
  c.packDelayMs = 1;
  c.ackDelayMs = 2;
  ReliableChannel& ch = open(c);
  const uint8_t b = 0;
  ch.onData(0, false, &b, 1, 0);         // ACK datagrams are paced, and this one starts the pace
  EXPECT_EQ(take(ch).count(Flag::Ack), 1u);
  ch.onData(1, false, &b, 1, 0);         // the next record waits for the pace
  ch.send(Bytes(10, 1), false, 0);
  Out o = take(ch);
  ASSERT_EQ(o.count(Flag::Dat), 1u);     // nothing of ours in flight: a lone body waits for nothing,
  EXPECT_EQ(o.count(Flag::Ack), 1u);     // and the waiting record goes with it
  ch.send(Bytes(10, 2), false, 0);       // DAT 0 in flight, no word from the peer since: waits for company
  ch.onData(0, false, &b, 1, 0);         // a duplicate (no answer): its record waits for the pace
  EXPECT_TRUE(take(ch).dg.empty());      // both wait
  EXPECT_EQ(ch.nextDeadline(), 1);       // the pack bound (the ACK pace ends at 2)
  ch.send(Bytes(10, 3), false, 0.5);     // arrives in time: the same DAT
  ch.onTimer(1);
  o = take(ch);
  ASSERT_EQ(o.count(Flag::Dat), 1u);
  EXPECT_EQ(o.dg[0].size(), 24u);
  EXPECT_EQ(o.count(Flag::Ack), 1u);     // the waiting ACK record goes with the DAT, before 2
  ch.onData(2, false, &b, 1, 1.5);       // ACK records alone wait their pace (2 after 1) ...
  ch.onData(3, false, &b, 1, 2);
  EXPECT_TRUE(take(ch).dg.empty());
  EXPECT_EQ(ch.nextDeadline(), 3);
  ch.onTimer(3);
  o = take(ch);
  ASSERT_EQ(o.dg.size(), 1u);            // ... and share one datagram,
  EXPECT_EQ(o.dg[0].size(), 20u);        // records 2 and 3, then 0, 1, 0 again (the latest ride again)
  EXPECT_EQ(o.dg[0][0], 2u);
  EXPECT_EQ(o.dg[0][4], 3u);
  EXPECT_EQ(o.dg[0][8], 0u);
  EXPECT_EQ(o.dg[0][12], 1u);
  EXPECT_EQ(o.dg[0][16], 0u);
}

TEST_F(RudpRecovery, ABodyQueuedWhileDatsAreInFlightGoesOnceTheyAreAcknowledged) {
  ReliableConfig c = adaptive();
  c.packDelayMs = 1;
  ReliableChannel& ch = open(c);
  ch.send(Bytes(10, 1), false, 0);
  ASSERT_EQ(take(ch).count(Flag::Dat), 1u);
  ch.send(Bytes(10, 2), false, 0.1);
  EXPECT_FALSE(ch.flushDue());           // DAT 0 unacknowledged: packing
  ch.onAck(AckRecord{0, false}, 0.2);
  EXPECT_TRUE(ch.flushDue());            // nothing in flight any more: Nagle lets it go
  EXPECT_EQ(take(ch).count(Flag::Dat), 1u);
}

TEST_F(RudpRecovery, SoloBodiesTravelAlone) {
  ReliableChannel& ch = open(adaptive());
  ch.send(Bytes(10, 1), false, 0);
  ch.send(Bytes(10, 2), false, 0, true);
  ch.send(Bytes(10, 3), false, 0);
  ch.send(Bytes(10, 4), false, 0);
  Out o = take(ch);
  ASSERT_EQ(o.count(Flag::Dat), 3u);
  EXPECT_EQ(o.dg[0].size(), 14u);
  EXPECT_EQ(o.dg[1].size(), 14u);
  EXPECT_EQ(o.dg[2].size(), 24u);
}

TEST_F(RudpRecovery, RtoFollowsRfc6298FromTheHandshakeSeed) {
  ReliableChannel& ch = open(adaptive());
  EXPECT_EQ(ch.baseRto(), 1000);   // no sample: retryMinMs (RFC 6298's 1 s)
  ch.seedRtt(40);                  // the SYN exchange
  EXPECT_DOUBLE_EQ(ch.srtt(), 40);
  EXPECT_DOUBLE_EQ(ch.baseRto(), 120);  // 40 + 4 * 20
  ch.send(Bytes{1}, false, 0);
  take(ch);
  ch.onAck(AckRecord{0, false}, 20);    // rtt 20
  EXPECT_DOUBLE_EQ(ch.rttvar(), 20);    // 0.75 * 20 + 0.25 * 20
  EXPECT_DOUBLE_EQ(ch.srtt(), 37.5);    // 0.875 * 40 + 0.125 * 20
  EXPECT_DOUBLE_EQ(ch.baseRto(), 117.5);
  ch.seedRtt(5000);                     // a seed never overrides a sample
  EXPECT_DOUBLE_EQ(ch.srtt(), 37.5);
}

TEST_F(RudpRecovery, KarnsRuleTheFlagSaysWhichCopyWasAnswered) {
  ReliableChannel& ch = open(adaptive());
  ch.send(Bytes{1}, false, 0);
  take(ch);
  EXPECT_EQ(ch.nextDeadline(), 1000);   // no RTT yet: the initial RTO
  ch.onTimer(1000);
  ASSERT_EQ(take(ch).seqs(Flag::Rdat), std::vector<uint32_t>{0});
  EXPECT_EQ(ch.nextDeadline(), 3000);   // backed off: 2 x 1000
  ch.onTimer(3000);
  ASSERT_EQ(take(ch).count(Flag::Rdat), 1u);
  ch.onAck(AckRecord{0, true}, 3050);   // RACK, but of which of the two RDATs?
  EXPECT_FALSE(ch.hasRttSample());
  ch.send(Bytes{2}, false, 3050);
  take(ch);
  // No valid sample: the backed-off RTO stays (RFC 6298 section 5), 4 x 1000.
  EXPECT_EQ(ch.nextDeadline(), 7050);
  ch.onTimer(7050);
  ASSERT_EQ(take(ch).count(Flag::Rdat), 1u);
  ch.onAck(AckRecord{1, true}, 7080);   // RACK of the only RDAT: exact
  EXPECT_TRUE(ch.hasRttSample());
  EXPECT_DOUBLE_EQ(ch.srtt(), 30);
  ch.send(Bytes{3}, false, 7080);
  take(ch);
  EXPECT_EQ(ch.nextDeadline(), 7180);   // a valid sample ended the backoff: RTO 100 (the floor)
  ch.onTimer(7180);
  ASSERT_EQ(take(ch).count(Flag::Rdat), 1u);
  // ACK, not RACK: the original was answered, 400 ms after it went (a busy peer).
  // That round trip is sampled: it is what the RTO has to cover.
  ch.onAck(AckRecord{2, false}, 7480);
  EXPECT_DOUBLE_EQ(ch.srtt(), 0.875 * 30 + 0.125 * 400);
  EXPECT_DOUBLE_EQ(ch.rttvar(), 0.75 * 15 + 0.25 * 370);
}

TEST_F(RudpRecovery, APeerThatAnswersAfterAStallGetsBoundedResends) {
  // Quick round trips (10 ms) teach a small RTO; then the peer's process stalls and
  // every answer comes 500 ms after the DAT (all copies answered at once, as a busy
  // process reads its socket). Before the original's ACK was sampled and the backoff
  // kept, every exchange cost two spurious resends (at 100 and 300 ms), forever.
  ReliableChannel& ch = open(adaptive());
  double now = 0;
  uint32_t seq = 0;
  for (int i = 0; i < 10; ++i, ++seq, now += 100) {
    ch.send(Bytes{1}, false, now);
    take(ch);
    ch.onAck(AckRecord{seq, false}, now + 10);
  }
  EXPECT_DOUBLE_EQ(ch.baseRto(), 100);
  size_t resends = 0;
  for (int i = 0; i < 40; ++i, ++seq, now += 2000) {
    ch.send(Bytes{1}, false, now);
    resends += take(ch).count(Flag::Rdat);
    while (ch.nextDeadline() < now + 500) {
      ch.onTimer(ch.nextDeadline());
      resends += take(ch).count(Flag::Rdat);
    }
    ch.onAck(AckRecord{seq, false}, now + 500);
    for (size_t k = 0; k < resends; ++k) ch.onAck(AckRecord{seq, true}, now + 500);  // duplicates: ignored
    ASSERT_EQ(ch.inFlight(), 0u);
  }
  // The first stalls only: two RTO resends, then a probe (2 SRTT + 200 ms) while
  // SRTT climbs to the stall. Before: two resends per exchange, 80.
  EXPECT_LE(resends, 4u);
  EXPECT_GT(ch.baseRto(), 500);
  EXPECT_FALSE(ch.timedOut());
}

TEST_F(RudpRecovery, FastRetransmitFromLaterAcksByTimeOncePerRtt) {
  ReliableChannel& ch = open(adaptive());
  ch.seedRtt(50);
  sendSolo(ch, 6, 0);
  ASSERT_EQ(take(ch).count(Flag::Dat), 6u);
  for (uint32_t s = 2; s < 6; ++s) ch.onAck(AckRecord{s, false}, 50);
  // 0 and 1 are overtaken; a reorder window (min RTT / 4) later they are lost.
  EXPECT_EQ(take(ch).count(Flag::Rdat), 0u);
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), 62.5);
  ch.onTimer(62.5);
  Out o = take(ch);
  EXPECT_EQ(o.seqs(Flag::Rdat), (std::vector<uint32_t>{0, 1}));  // long before any RTO
  // No new evidence: the next resend is a timer at least an RTT away.
  EXPECT_GE(ch.nextDeadline(), 62.5 + 50);
  ch.onAck(AckRecord{5, false}, 70);    // duplicate: no evidence
  EXPECT_EQ(take(ch).count(Flag::Rdat), 0u);
  ch.onAck(AckRecord{0, true}, 110);
  ch.onAck(AckRecord{1, true}, 110);
  EXPECT_TRUE(ch.idle());
  EXPECT_EQ(stats.retransmits.load(), 2u);
}

// Started with an RTT of `rtt` from the handshake, n DATs sent alone at 0.
void begin(ReliableChannel& ch, double rtt, int n) {
  ch.start(0, 0, 0);
  ch.seedRtt(rtt);
  sendSolo(ch, n, 0);
  take(ch);
}

TEST_F(RudpRecovery, InABurstSentAtOnceOnlyLowerSeqsCountAsSentBefore) {
  // RFC 8985's RACK_sent_after: a DAT of the same loop turn (one send time) with
  // a higher seq than the acknowledged one was sent after it, not before.
  ReliableChannel& ch = make(adaptive());
  begin(ch, 50, 6);
  ch.onAck(AckRecord{2, false}, 50);
  ch.onTimer(62.5);                     // RTT 50 + reorder window 12.5
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), (std::vector<uint32_t>{0, 1}));  // not 3, 4, 5
}

TEST_F(RudpRecovery, ReorderingSeenInAcksWidensTheReorderWindow) {
  ReliableChannel& ch = make(adaptive());
  begin(ch, 20, 2);                     // min RTT 20: window 5
  ch.onAck(AckRecord{1, false}, 20);
  ch.onAck(AckRecord{0, false}, 35);    // 15 ms later than a DAT sent after it: not lost, late
  EXPECT_EQ(take(ch).count(Flag::Rdat), 0u);
  sendSolo(ch, 4, 40);                  // seqs 2..5
  take(ch);
  ch.onAck(AckRecord{5, false}, 60);
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), 40 + 20 + 15);  // RTT 20 + the reordering seen (was + 5)
  ch.onTimer(74);
  EXPECT_EQ(take(ch).count(Flag::Rdat), 0u);
  ch.onTimer(75);
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), (std::vector<uint32_t>{2, 3, 4}));
}

// 20 DATs, the last acknowledged first: 0..18 declared lost at once, over half
// of them, an overrun: the window (65) is halved.
void lossEpisodeOfNineteen(ReliableChannel& ch) {
  begin(ch, 50, 20);
  ch.onAck(AckRecord{19, false}, 50);
  ch.onTimer(62.5);
  EXPECT_EQ(take(ch).count(Flag::Rdat), 19u);
  EXPECT_DOUBLE_EQ(ch.cwnd(), 32.5);
  for (uint32_t s = 0; s < 18; ++s) ch.onAck(AckRecord{s, false}, 70);  // the originals, late
}

TEST_F(RudpRecovery, LossesThatProveSpuriousUndoTheWindowReduction) {
  ReliableChannel& ch = make(adaptive());
  lossEpisodeOfNineteen(ch);
  // Every loss of the episode was spurious (reordering): the reduction is undone, growth resumes.
  ch.onAck(AckRecord{18, false}, 70);
  EXPECT_DOUBLE_EQ(ch.cwnd(), 66);
  EXPECT_TRUE(ch.idle());
}

TEST_F(RudpRecovery, ARealLossInTheEpisodeKeepsTheReduction) {
  ReliableChannel& ch = make(adaptive());
  lossEpisodeOfNineteen(ch);
  ch.onAck(AckRecord{18, true}, 120);   // 18's original was lost: its resend got through
  EXPECT_DOUBLE_EQ(ch.cwnd(), 32.5);
  EXPECT_TRUE(ch.idle());
}

TEST_F(RudpRecovery, TailLossProbeResendsTheNewestBeforeTheRto) {
  ReliableChannel& ch = open(adaptive());
  ch.seedRtt(50);                       // RTO 150, probe after 2 x 50 + 5
  sendSolo(ch, 3, 0);
  take(ch);
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), 105);
  ch.onTimer(105);
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), std::vector<uint32_t>{2});
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), 105 + 150);  // one probe, then the RTO
  // The probe's ACK reveals the earlier two as lost (RACK), without the RTO.
  ch.onAck(AckRecord{2, true}, 160);
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), (std::vector<uint32_t>{0, 1}));
  EXPECT_FALSE(ch.timedOut());
}

TEST_F(RudpRecovery, CongestionWindowGrowsInSlowStartAndRandomLossLeavesItAlone) {
  ReliableChannel& ch = open(adaptive());
  ch.seedRtt(50);
  sendSolo(ch, 250, 0);
  EXPECT_EQ(take(ch).count(Flag::Dat), 64u);  // the initial window
  for (uint32_t s = 0; s < 64; ++s) ch.onAck(AckRecord{s, false}, 50);
  EXPECT_DOUBLE_EQ(ch.cwnd(), 128);             // slow start: +1 per acknowledged DAT
  EXPECT_EQ(take(ch).count(Flag::Dat), 128u);
  for (uint32_t s = 66; s < 192; ++s) ch.onAck(AckRecord{s, false}, 100);
  const double before = ch.cwnd();
  ch.onTimer(ch.nextDeadline());                // 64 and 65 lost, with no queue building
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), (std::vector<uint32_t>{64, 65}));
  EXPECT_DOUBLE_EQ(ch.cwnd(), before);
}

TEST_F(RudpRecovery, CongestionWindowHalvesOncePerEpisodeWhenAQueueBuilds) {
  ReliableChannel& ch = open(adaptive());
  ch.seedRtt(50);
  uint32_t seq = 0;
  // Three rounds whose RTT floor climbs 50 -> 110 -> 120 ms: a queue is building.
  const double sendAt[3] = {0, 50, 160};
  const double ackAt[3] = {50, 160, 280};
  for (int r = 0; r < 3; ++r) {
    sendSolo(ch, 10, sendAt[r]);
    take(ch);
    for (uint32_t k = 0; k < 10; ++k, ++seq) {
      if (r == 2 && k < 2) continue;            // the last round loses its first two
      ch.onAck(AckRecord{seq, false}, ackAt[r]);
    }
  }
  const double before = ch.cwnd();
  EXPECT_DOUBLE_EQ(before, 64 + 10 + 10 + 8);
  ch.onTimer(ch.nextDeadline());
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), (std::vector<uint32_t>{20, 21}));
  EXPECT_DOUBLE_EQ(ch.cwnd(), before / 2);      // two losses, one episode: halved once
}

TEST_F(RudpRecovery, RtoResendsOnlyTheOldestThenSlowStarts) {
  // RFC 5681's loss window: a peer that is only slow (a busy process) gets one
  // DAT again per RTO, not everything outstanding; ACKs reopen the window.
  ReliableChannel& ch = open(adaptive());
  ch.seedRtt(50);
  sendSolo(ch, 20, 0);
  take(ch);
  ch.onTimer(105);                      // the probe
  take(ch);
  const double rto = ch.nextDeadline();
  ch.onTimer(rto);                      // the RTO: all 20 presumed lost, the oldest resent
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), std::vector<uint32_t>{0});
  EXPECT_DOUBLE_EQ(ch.cwnd(), 1);
  ch.send(Bytes{9}, false, rto, true);  // a new DAT waits too
  EXPECT_EQ(take(ch).dg.size(), 0u);
  ch.onAck(AckRecord{0, true}, rto + 50);
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), (std::vector<uint32_t>{1, 2}));  // slow start: 2
  EXPECT_DOUBLE_EQ(ch.cwnd(), 2);
  ch.onAck(AckRecord{1, true}, rto + 100);
  ch.onAck(AckRecord{2, true}, rto + 100);
  EXPECT_EQ(take(ch).seqs(Flag::Rdat), (std::vector<uint32_t>{3, 4, 5, 6}));
}

TEST_F(RudpRecovery, ALivePeerIsNeverTimedOutWhileADeadOneIs) {
  // The peer acknowledges every DAT but one, whose copies are all lost for 30
  // rounds: the adaptive sender keeps resending it (RACK, once per RTT), the
  // wire schedule gives up after maxRetries resends of it.
  for (bool adaptivePolicy : {true, false}) {
    ReliableConfig c = adaptive();
    c.adaptive = adaptivePolicy;
    ReliableChannel& ch = open(c);
    ch.seedRtt(50);
    ch.send(Bytes{0}, false, 0, true);
    take(ch);
    double now = 0;
    size_t resendsOfZero = 0;
    while (now < 100000 && !ch.timedOut() && resendsOfZero < 30) {
      now += 100;
      ch.onTimer(now);
      ch.send(Bytes{1}, false, now, true);
      Out o = take(ch);
      for (uint32_t s : o.seqs(Flag::Rdat)) resendsOfZero += s == 0 ? 1 : 0;
      for (uint32_t s : o.seqs(Flag::Dat)) ch.onAck(AckRecord{s, false}, now + 50);
    }
    if (adaptivePolicy) {
      EXPECT_FALSE(ch.timedOut());
      EXPECT_EQ(resendsOfZero, 30u);
      EXPECT_LT(now, 6000);             // about one resend per RTT + reorder window
      ch.onAck(AckRecord{0, true}, now);
      EXPECT_EQ(ch.inFlight(), 0u);
    } else {
      EXPECT_TRUE(ch.timedOut());
      EXPECT_EQ(resendsOfZero, 10u);
    }
  }
}

TEST_F(RudpRecovery, ADeadPeerTimesOutAfterMaxRetriesTimeoutsInARow) {
  ReliableChannel& ch = open(adaptive());
  ch.seedRtt(50);
  ch.send(Bytes{1}, false, 0);
  take(ch);
  double now = 0;
  int timers = 0;
  while (!ch.timedOut() && timers < 100) {
    now = ch.nextDeadline();
    ch.onTimer(now);
    take(ch);
    ++timers;
  }
  EXPECT_TRUE(ch.timedOut());
  // A lone DAT gets no probe before its RTO (the probe waits a delayed ACK more),
  // then RTOs of 150, 300, ... capped at 8000: about 39 s.
  EXPECT_EQ(timers, 11);
  EXPECT_GT(now, 30000);
  EXPECT_LT(now, 60000);
  EXPECT_EQ(ch.nextDeadline(), ReliableChannel::kNoDeadline);
}

TEST_F(RudpRecovery, NoDatBeyondThePeersReceiveSpan) {
  ReliableConfig c = adaptive();
  c.peerWindow = 8;
  ReliableChannel& ch = open(c, 0xFFFFFC);  // and across the wrap
  sendSolo(ch, 20, 0);
  EXPECT_EQ(take(ch).count(Flag::Dat), 8u);
  for (uint32_t k = 1; k < 8; ++k) ch.onAck(AckRecord{seqAdd(0xFFFFFC, k), false}, 10);
  EXPECT_EQ(take(ch).count(Flag::Dat), 0u);  // the oldest holds the span
  ch.onAck(AckRecord{0xFFFFFC, false}, 11);
  EXPECT_EQ(take(ch).count(Flag::Dat), 8u);
}

TEST_F(RudpRecovery, TheOutOfOrderBufferExistsOnlyWhileAGapDoes) {
  ReliableChannel& ch = open(adaptive(), 0, 100);
  const uint8_t b[3] = {1, 2, 3};
  ch.onData(100, false, b, 1, 0);
  EXPECT_FALSE(ch.reorderBufferAllocated());
  ch.onData(102, false, b + 2, 1, 0);
  EXPECT_TRUE(ch.reorderBufferAllocated());
  EXPECT_EQ(ch.bufferedOutOfOrder(), 1u);
  ch.onData(101, false, b + 1, 1, 0);
  EXPECT_FALSE(ch.reorderBufferAllocated());
  std::vector<Bytes> got;
  ch.takeDelivered(got);
  ASSERT_EQ(got.size(), 3u);
  for (uint8_t i = 0; i < 3; ++i) EXPECT_EQ(got[i], Bytes{b[i]});
  ch.onData(103, false, b, 1, 0);
  ch.takeDelivered(got);
  EXPECT_EQ(got.size(), 4u);
  Out o = take(ch);
  ASSERT_EQ(o.dg.size(), 1u);           // four ACK records in one datagram
  EXPECT_EQ(o.dg[0].size(), 16u);
}

}  // namespace
}  // namespace rudp
}  // namespace diarkis

namespace diarkis::rudp {
namespace {

// The owner flushes at the end of a loop turn only once the pack or ACK delay is over
// (flushDue); until then the channel's deadline wakes it. Asking hasUnflushed() instead
// kept the network thread's loop turning, without sleeping, through every delay.
TEST_F(RudpRecovery, AFlushIsDueOnlyOnceThePackOrAckDelayIsOver) {
  ReliableConfig c;
  c.adaptive = true;
  c.packDelayMs = 1;
  c.ackDelayMs = 2;
  ReliableChannel& ch = open(c);
  ch.send(Bytes(10, 1), true, 0);
  EXPECT_TRUE(ch.flushDue());  // nothing in flight: a lone send is due at once
  std::vector<Bytes> out;
  ch.takeDatagrams(out);
  ASSERT_EQ(out.size(), 1u);
  out.clear();
  ch.send(Bytes(10, 2), true, 0);  // DAT 0 in flight: this one waits packDelayMs
  ch.takeDatagrams(out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(ch.hasUnflushed());
  EXPECT_FALSE(ch.flushDue());
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), 1);
  ch.onTimer(0.5);
  EXPECT_FALSE(ch.flushDue());
  ch.onTimer(1);
  EXPECT_TRUE(ch.flushDue());
  ch.takeDatagrams(out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(ch.flushDue());
  // ACK datagrams are paced: the first record after a quiet time is due at once (no timer) ...
  const uint8_t body[] = {1, 2, 3};
  ch.onData(0, false, body, sizeof body, 5);
  EXPECT_TRUE(ch.flushDue());
  ch.takeDatagrams(out);
  out.clear();
  // ... the next ones wait ackDelayMs after that ACK datagram.
  ch.onData(1, false, body, sizeof body, 6);
  EXPECT_TRUE(ch.hasUnflushed());
  EXPECT_FALSE(ch.flushDue());
  EXPECT_DOUBLE_EQ(ch.nextDeadline(), 7);
  ch.onTimer(6.5);
  EXPECT_FALSE(ch.flushDue());
  ch.onTimer(7);
  EXPECT_TRUE(ch.flushDue());
  ch.takeDatagrams(out);
  ASSERT_EQ(out.size(), 1u);
  out.clear();
  // A stream of DATs, one per ms: one ACK datagram per ackDelayMs, each with every record since.
  size_t acks = 0;
  for (uint32_t s = 2; s < 22; ++s) {
    const double t = 7 + (s - 1);
    ch.onData(s, false, body, sizeof body, t);
    if (ch.nextDeadline() <= t) ch.onTimer(t);
    if (ch.flushDue()) ch.takeDatagrams(out);
    acks += out.size();
    out.clear();
  }
  EXPECT_EQ(acks, 10u);  // 20 DATs over 20 ms at a 2 ms pace (0: 20 datagrams)
}

// RACK's scan walks a send-time list and stops early (reliable_loss.cc): under random
// loss, reordering, bursts at one instant, probes and RTOs, every ACK leaves exactly
// what the whole-window scan would (nothing overdue, the same RACK deadline).
TEST(RudpRackScan, TheSendTimeListAgreesWithTheWholeWindowScan) {
  size_t resends = 0;
  size_t checks = 0;
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    Stats stats;
    ReliableConfig c = adaptive();
    c.rtoMinMs = 50;
    ReliableChannel ch(c, stats);
    double now = 0;
    ch.start(seed % 2 == 0 ? 0xffff00u : 7u, 0, now);
    std::vector<std::pair<double, AckRecord>> wire;  // ACK records on their way back
    const auto ship = [&] {
      for (const Bytes& d : take(ch).dg) {
        if (d.size() < 4 || (d[3] != static_cast<uint8_t>(Flag::Dat) && d[3] != static_cast<uint8_t>(Flag::Rdat))) continue;
        if (u(rng) < 0.15) continue;  // lost (15 %), else back after 10-70 ms (reordered)
        const uint32_t seq = uint32_t{d[0]} | (uint32_t{d[1]} << 8) | (uint32_t{d[2]} << 16);
        wire.emplace_back(now + 10 + u(rng) * 60, AckRecord{seq, d[3] == static_cast<uint8_t>(Flag::Rdat)});
      }
    };
    int sent = 0;
    for (int step = 0; step < 4000 && !ch.timedOut(); ++step) {
      now += u(rng) < 0.3 ? 0 : u(rng) * 4;
      if (sent < 3000 && u(rng) < 0.5) {
        const int n = 1 + static_cast<int>(u(rng) * 8);  // a burst at one instant: ties broken by seq
        for (int i = 0; i < n; ++i, ++sent) ch.send(Bytes{static_cast<uint8_t>(sent)}, false, now, true);
      }
      ship();
      std::stable_sort(wire.begin(), wire.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      size_t k = 0;
      for (; k < wire.size() && wire[k].first <= now; ++k) {
        if (!ch.onAck(wire[k].second, now)) continue;
        const ReliableChannel::RackCheck r = ch.checkRackScan(now);
        ASSERT_EQ(r.overdue, 0u);
        ASSERT_EQ(r.rackAt, r.wholeWindowRackAt);
        ++checks;
      }
      wire.erase(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(k));
      ship();
      if (ch.nextDeadline() <= now) {
        ch.onTimer(now);
        ASSERT_EQ(ch.checkRackScan(now).overdue, 0u);
        ship();
      }
    }
    resends += stats.snapshot().retransmits;
  }
  EXPECT_GT(checks, 5000u);
  EXPECT_GT(resends, 500u);  // loss recovery ran (RACK, probes, RTOs), not only the happy path
}

// The pump resends DATs lost at an RTO from a cursor, not by a walk from the oldest DAT
// (reliable.cc resendLost): under random loss with blackouts (RTOs with a full window lost,
// then slow start through it), after every call no lost DAT lies before the cursor and the walk
// from the oldest would resend nothing more, so both walks send the same DATs in the same order.
// After every call the list the pump resends from is the lost DATs in seq order, and none waits
// while the window is open: the walk from the oldest DAT would resend nothing more, in that order.
TEST(RudpLostList, HoldsTheLostDatsInSeqOrderAsTheWalkFromTheOldestFindsThem) {
  size_t waiting = 0;  // calls after which lost DATs waited for the window
  size_t checks = 0;
  for (uint32_t seed = 1; seed <= 10; ++seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    Stats stats;
    ReliableConfig c = adaptive();
    c.rtoMinMs = 50;
    c.maxRetries = 1000;
    ReliableChannel ch(c, stats);
    double now = 0;
    ch.start(seed % 2 == 0 ? 0xfffff0u : 7u, 0, now);
    std::vector<std::pair<double, AckRecord>> wire;
    double blackoutUntil = -1;
    const auto check = [&] {
      const ReliableChannel::LostWalkCheck r = ch.checkLostWalk();
      ASSERT_TRUE(r.listIsTheLostInSeqOrder);
      ASSERT_FALSE(r.wouldResend);
      if (r.lost > 0) ++waiting;
      ++checks;
    };
    const auto ship = [&] {
      for (const Bytes& d : take(ch).dg) {
        if (d.size() < 4 || (d[3] != static_cast<uint8_t>(Flag::Dat) && d[3] != static_cast<uint8_t>(Flag::Rdat))) continue;
        if (now < blackoutUntil || u(rng) < 0.1) continue;
        const uint32_t seq = uint32_t{d[0]} | (uint32_t{d[1]} << 8) | (uint32_t{d[2]} << 16);
        wire.emplace_back(now + 5 + u(rng) * 40, AckRecord{seq, d[3] == static_cast<uint8_t>(Flag::Rdat)});
      }
    };
    int sent = 0;
    for (int step = 0; step < 6000 && !ch.timedOut(); ++step) {
      now += u(rng) * 3;
      if (step > 200 && u(rng) < 0.0008) blackoutUntil = now + 100 + u(rng) * 300;  // everything lost for a while
      if (sent < 5000 && u(rng) < 0.5) {
        const int n = 1 + static_cast<int>(u(rng) * 12);
        for (int i = 0; i < n; ++i, ++sent) ch.send(Bytes{static_cast<uint8_t>(sent)}, false, now, true);
        check();
      }
      ship();
      std::stable_sort(wire.begin(), wire.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      size_t k = 0;
      for (; k < wire.size() && wire[k].first <= now; ++k) {
        ch.onAck(wire[k].second, now);
        check();
      }
      wire.erase(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(k));
      ship();
      if (ch.nextDeadline() <= now) {
        ch.onTimer(now);
        check();
        ship();
      }
    }
    EXPECT_FALSE(ch.timedOut());
  }
  EXPECT_GT(checks, 20000u);
  EXPECT_GT(waiting, 1000u);  // RTOs left DATs waiting for the window, often
}

}  // namespace
}  // namespace diarkis::rudp
