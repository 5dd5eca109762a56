// The send queue's running byte and solo counts (ReliableChannel::queueBytes_ / queueSolo_):
// a send that still fits the open DAT emits nothing without walking the queue. The DATs that
// leave mid-turn (takeReadyDatagrams) must be exactly the greedy packing's: a DAT goes as soon
// as the next body does not fit it, or a solo body follows it; the rest waits for the flush.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "rudp/datagram.h"
#include "rudp/reliable.h"
#include "rudp_channel_out.h"

namespace diarkis {
namespace {

using rudp::Flag;
using rudp::ReliableChannel;
using rudp::ReliableConfig;

struct Body {
  size_t size;
  bool solo;
};

// The DAT body sizes the pack rule makes of `bodies`, mid-turn only (no flush).
std::vector<size_t> greedyReady(const std::vector<Body>& bodies, size_t max) {
  std::vector<size_t> dats;
  size_t open = 0;
  bool any = false;
  for (const Body& b : bodies) {
    if (b.solo) {
      if (any) dats.push_back(open);
      dats.push_back(b.size);
      open = 0;
      any = false;
      continue;
    }
    if (any && open + b.size > max) {
      dats.push_back(open);
      open = 0;
      any = false;
    }
    open += b.size;
    any = true;
  }
  return dats;
}

std::vector<size_t> readyBodies(ReliableChannel& ch) {
  std::vector<Bytes> dg;
  ch.takeReadyDatagrams(dg);
  std::vector<size_t> sizes;
  for (const Bytes& d : dg) {
    EXPECT_EQ(d[3], static_cast<uint8_t>(Flag::Dat));
    sizes.push_back(d.size() - rudp::kHeaderSize);
  }
  return sizes;
}

TEST(RudpQueueBytes, SendsThatFitWaitForTheFlush) {
  Stats stats;
  ReliableChannel ch(ReliableConfig{}, stats);
  ch.start(0, 0, 0);
  for (int i = 0; i < 14; ++i) {  // 14 x 100 = 1400: exactly one full DAT body
    ch.send(Bytes(100, static_cast<uint8_t>(i)), true, 0);
    EXPECT_TRUE(readyBodies(ch).empty()) << i;
  }
  ch.send(Bytes(1, 0), true, 0);  // the 15th does not fit: the 14 leave at once
  EXPECT_EQ(readyBodies(ch), std::vector<size_t>{1400});
  const rudp::Out rest = take(ch);  // the flush: the lone byte
  EXPECT_EQ(rest.count(Flag::Dat), 1u);
  EXPECT_EQ(ch.queued(), 0u);
}

TEST(RudpQueueBytes, ReadyDatsMatchTheGreedyPackingOfRandomBodies) {
  std::mt19937 rng(9);
  for (int round = 0; round < 50; ++round) {
    Stats stats;
    ReliableConfig c;
    ReliableChannel ch(c, stats);
    ch.start(0, 0, 0);
    std::vector<Body> bodies;
    std::vector<size_t> got;
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) {
      const Body b{1 + rng() % 700, rng() % 8 == 0};
      bodies.push_back(b);
      ch.send(Bytes(b.size, 1), true, 0, b.solo);
      const std::vector<size_t> r = readyBodies(ch);
      got.insert(got.end(), r.begin(), r.end());
    }
    EXPECT_EQ(got, greedyReady(bodies, c.maxDatagramBody)) << "round " << round;
    take(ch);  // the flush sends the open DAT: nothing stays queued
    EXPECT_EQ(ch.queued(), 0u) << "round " << round;
  }
}

// While the window is full the queue grows past one DAT; once ACKs open it, the queue packs
// from its front again, and the counts stay exact after the drain (a later small send waits).
TEST(RudpQueueBytes, AQueueLongerThanADatDrainsWhenTheWindowOpens) {
  Stats stats;
  ReliableConfig c;
  c.sendWindow = 1;
  ReliableChannel ch(c, stats);
  ch.start(0, 0, 0);
  ch.send(Bytes(10, 1), true, 0, true);  // solo: in flight at once, the window is full
  EXPECT_EQ(readyBodies(ch), std::vector<size_t>{10});
  for (int i = 0; i < 30; ++i) ch.send(Bytes(100, 2), true, 0);  // 3000 bytes wait
  EXPECT_TRUE(readyBodies(ch).empty());
  EXPECT_EQ(ch.queued(), 30u);
  rudp::AckRecord ack;
  ack.seq = 0;
  ch.onAck(ack, 1);  // the window opens for one DAT: a full one leaves without a flush
  EXPECT_EQ(readyBodies(ch), std::vector<size_t>{1400});
  EXPECT_EQ(ch.queued(), 16u);
  ack.seq = 1;
  ch.onAck(ack, 2);
  EXPECT_EQ(readyBodies(ch), std::vector<size_t>{1400});
  ack.seq = 2;
  ch.onAck(ack, 3);  // two bodies left: they fit, so they wait for the flush
  EXPECT_TRUE(readyBodies(ch).empty());
  EXPECT_EQ(ch.queued(), 2u);
  ch.forgetOutgoing();  // a migration: the queue goes, the counts with it
  EXPECT_EQ(ch.queued(), 0u);
  ch.send(Bytes(100, 3), true, 4);
  EXPECT_TRUE(readyBodies(ch).empty());
}

}  // namespace
}  // namespace diarkis
