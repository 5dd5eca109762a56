// The core's event queue: order, batch caps, wake-up signalling, per-client byte
// accounting, and the lifetime a poll-style consumer relies on.
#include "events/event_queue.h"

#include <gtest/gtest.h>

#include <thread>

namespace diarkis {
namespace {

Event response(size_t payloadBytes, uint16_t cmd = 1) {
  Event ev;
  ev.type = EventType::Response;
  ev.cmd = cmd;
  ev.payload.assign(payloadBytes, 0xAB);
  return ev;
}

TEST(EventQueue, SignalsOnlyWhenItGoesFromEmptyToNonEmpty) {
  EventQueue q;
  EXPECT_TRUE(q.push(1, response(3)));
  EXPECT_FALSE(q.push(1, response(3)));
  std::vector<QueuedEvent> out;
  EXPECT_EQ(q.take(out, 10), 0u);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_TRUE(q.push(1, response(3)));  // empty again: the next push wakes the consumer
}

TEST(EventQueue, TakesInOrderUpToTheCapAndSaysWhatIsLeft) {
  EventQueue q;
  for (uint16_t i = 0; i < 5; ++i) q.push(7, response(1, i));
  std::vector<QueuedEvent> out;
  EXPECT_EQ(q.take(out, 3), 2u);
  ASSERT_EQ(out.size(), 3u);
  for (uint16_t i = 0; i < 3; ++i) EXPECT_EQ(out[i].ev.cmd, i);
  EXPECT_EQ(q.take(out, 3), 0u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].ev.cmd, 3);
  EXPECT_EQ(out[1].clientId, 7);
}

TEST(EventQueue, CountsBytesPerClient) {
  EventQueue q;
  q.push(1, response(100));
  q.push(2, response(10));
  Event err;
  err.type = EventType::Error;
  err.message = "bad mac";
  q.push(1, std::move(err));
  EXPECT_EQ(q.bytesFor(1), 107u);
  EXPECT_EQ(q.bytesFor(2), 10u);
  EXPECT_EQ(q.stats().bytes, 117u);
  std::vector<QueuedEvent> out;
  q.take(out, 1);  // client 1's response
  EXPECT_EQ(q.bytesFor(1), 7u);
  q.forget(1);
  EXPECT_EQ(q.bytesFor(1), 0u);
  EXPECT_EQ(q.stats().queued, 1u);
  EXPECT_EQ(q.stats().bytes, 10u);
}

TEST(EventQueue, TakenPayloadsLiveUntilTheNextTake) {
  EventQueue q;
  q.push(1, response(64));
  std::vector<QueuedEvent> out;
  q.take(out, 8);
  const uint8_t* p = out[0].ev.payload.data();
  q.push(1, response(64));  // producers keep going; the consumer's batch is untouched
  EXPECT_EQ(p, out[0].ev.payload.data());
  EXPECT_EQ(p[63], 0xAB);
  const size_t cap = out.capacity();
  q.take(out, 8);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_GE(out.capacity(), cap);  // the consumer's vector keeps its capacity
}

TEST(EventQueue, CloseDropsAndCountsLaterPushes) {
  EventQueue q;
  q.push(1, response(5));
  q.close();
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.push(1, response(5)));
  EXPECT_EQ(q.stats().dropped, 1u);
  EXPECT_EQ(q.stats().bytes, 0u);
}

TEST(EventQueue, OneProducerThreadOneConsumerLoseNothing) {
  EventQueue q;
  constexpr int kEvents = 20000;
  std::thread producer([&] {
    for (int i = 0; i < kEvents; ++i) q.push(3, response(8, static_cast<uint16_t>(i & 0xFFFF)));
  });
  std::vector<QueuedEvent> out;
  int seen = 0;
  uint16_t expect = 0;
  bool ordered = true;
  while (seen < kEvents) {
    q.take(out, 256);
    for (const auto& e : out) {
      ordered = ordered && e.ev.cmd == expect;
      ++expect;
    }
    seen += static_cast<int>(out.size());
    if (out.empty()) std::this_thread::yield();
  }
  producer.join();
  EXPECT_TRUE(ordered);
  EXPECT_EQ(q.stats().taken, static_cast<uint64_t>(kEvents));
  EXPECT_EQ(q.bytesFor(3), 0u);
}

}  // namespace
}  // namespace diarkis
