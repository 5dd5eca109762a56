// The response path of issue 9 (fifth session, second round): a TCP session
// decrypts its application's responses and pushes straight into the host's
// EventQueue arena (PacketSink), with the queue's order, per-client accounting
// and receive bound unchanged; the poll-style take still gets owned payloads.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "events/event_queue.h"
#include "queue_sink.h"
#include "tcp_harness.h"
#include "test_server.h"

namespace diarkis {
namespace {

using test::bytesOf;
using test::payloadOf;
using test::QueueSink;
using test::textOf;

struct Copy {
  Bytes bytes;
  static bool fill(void* ctx, Bytes& arena, DropReason&) {
    const Bytes& b = static_cast<Copy*>(ctx)->bytes;
    arena.insert(arena.end(), b.begin(), b.end());
    return true;
  }
};

bool failFill(void*, Bytes& arena, DropReason& reason) {
  arena.push_back(1);  // a half-written payload must not stay
  reason = DropReason::BadMac;
  return false;
}

PacketPost pushText(EventQueue& q, uint64_t id, const std::string& text, uint16_t cmd = 1) {
  Copy c{bytesOf(text)};
  PacketHeader h;
  h.ver = 2;
  h.cmd = cmd;
  h.status = 1;
  DropReason reason = DropReason::Unexpected;
  bool wasEmpty = false;
  return q.pushPacket(id, h, c.bytes.size(), &Copy::fill, &c, reason, wasEmpty);
}


TEST(EventQueueArena, ManyPacketsAcrossClientsAndEventsComeOutInOrderWithTheArenaAsIs) {
  EventQueue q;
  Event connect;
  connect.type = EventType::Connect;
  q.push(3, std::move(connect));
  for (int i = 0; i < 300; ++i) ASSERT_EQ(pushText(q, 1 + i % 3, "r" + std::to_string(i), static_cast<uint16_t>(i)), PacketPost::Queued);
  Event big;
  big.type = EventType::Response;
  big.payload.assign(10000, 7);  // a large payload keeps its own buffer
  q.push(2, std::move(big));
  ASSERT_EQ(pushText(q, 2, "last"), PacketPost::Queued);
  QueueBatch out;
  EXPECT_EQ(q.take(out, 1000), 0u);
  ASSERT_EQ(out.size(), 303u);
  ASSERT_EQ(out.events.size(), 2u);  // only the two that are not packets are whole events
  EXPECT_FALSE(out.rows[0].packet);
  EXPECT_EQ(out.rows[0].type, EventType::Connect);
  EXPECT_EQ(out.event(out.rows[0]).type, EventType::Connect);
  for (int i = 0; i < 300; ++i) {
    const QueueRow& e = out.rows[static_cast<size_t>(1 + i)];
    ASSERT_TRUE(e.packet);
    EXPECT_EQ(e.clientId, static_cast<uint64_t>(1 + i % 3));
    EXPECT_EQ(e.type, EventType::Response);
    EXPECT_EQ(e.cmd, i);
    EXPECT_EQ(e.ver, 2);
    EXPECT_EQ(e.status, 1);
    EXPECT_EQ(payloadOf(out, e), "r" + std::to_string(i));
  }
  EXPECT_FALSE(out.rows[301].packet);
  EXPECT_EQ(out.event(out.rows[301]).payload.size(), 10000u);
  EXPECT_EQ(payloadOf(out, out.rows[302]), "last");
  EXPECT_EQ(q.stats().bytes, 0u);
}

TEST(EventQueueArena, APartialTakeHandsOverTheArenaPrefixAndShiftsTheRest) {
  EventQueue q;
  for (int i = 0; i < 10; ++i) pushText(q, 1, std::string(static_cast<size_t>(i + 1), static_cast<char>('a' + i)));
  QueueBatch out;
  EXPECT_EQ(q.take(out, 4), 6u);
  EXPECT_EQ(out.arena.size(), 1u + 2 + 3 + 4);  // only the taken packets' bytes
  EXPECT_EQ(payloadOf(out, out.rows[3]), "dddd");
  ASSERT_EQ(pushText(q, 1, "tail"), PacketPost::Queued);  // appended after the shifted rest
  EXPECT_EQ(q.take(out, 100), 0u);
  ASSERT_EQ(out.size(), 7u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(payloadOf(out, out.rows[static_cast<size_t>(i)]), std::string(static_cast<size_t>(i + 5), static_cast<char>('e' + i)));
  EXPECT_EQ(payloadOf(out, out.rows[6]), "tail");
}

// Packets and whole events interleaved, taken in slices of every size: each slice is the
// queue's order exactly, each row's payload or event is its own, and the rows pushed
// between the takes land after the shifted rest (arena offsets and event indexes).
Event textEvent(EventType type, const std::string& text) {
  Event ev;
  ev.type = type;
  if (type == EventType::Error) {
    ev.message = text;
  } else {
    ev.payload = bytesOf(text);
  }
  return ev;
}

std::string describe(const QueueBatch& b, const QueueRow& r) {
  const std::string body = r.packet || r.type != EventType::Error ? payloadOf(b, r) : b.event(r).message;
  return std::to_string(r.clientId) + (r.packet ? "p:" : "e:") + body;
}

TEST(EventQueueRows, RowsAndEventsInterleaveExactlyAcrossPartialTakes) {
  for (size_t slice = 1; slice <= 7; ++slice) {
    EventQueue q;
    std::vector<std::string> want;
    int next = 0;
    auto pushSome = [&](int n) {
      for (int k = 0; k < n; ++k, ++next) {
        const uint64_t id = 1 + static_cast<uint64_t>(next % 3);
        const std::string text = "m" + std::to_string(next);
        if (next % 4 == 1) {  // a whole event with a payload (a large response's path)
          q.push(id, textEvent(EventType::Response, text));
          want.push_back(std::to_string(id) + "e:" + text);
        } else if (next % 7 == 3) {  // an event with a string only
          q.push(id, textEvent(EventType::Error, text));
          want.push_back(std::to_string(id) + "e:" + text);
        } else {
          ASSERT_EQ(pushText(q, id, text), PacketPost::Queued);
          want.push_back(std::to_string(id) + "p:" + text);
        }
      }
    };
    std::vector<std::string> got;
    QueueBatch out;
    pushSome(20);
    for (int round = 0; round < 40 && got.size() < want.size(); ++round) {
      const size_t waiting = want.size() - got.size();
      EXPECT_EQ(q.take(out, slice), waiting - std::min(slice, waiting));
      ASSERT_EQ(out.size(), std::min(slice, waiting));
      for (const QueueRow& r : out.rows) got.push_back(describe(out, r));
      if (round < 5) pushSome(3);  // more arrive between the takes
    }
    EXPECT_EQ(got, want) << "slice " << slice;
    EXPECT_EQ(q.stats().bytes, 0u);
    EXPECT_EQ(q.stats().taken, want.size());
  }
}

// A partial take passes a forgotten client's event and packet slots: the rest keep
// their own payloads, and the accounting of the others is exact at every step.
TEST(EventQueueRows, AForgottenClientsEventsBetweenPartialTakesLeaveTheRestIntact) {
  EventQueue q;
  auto b1 = std::make_shared<ReceiveBacklog>(1 << 20);
  q.track(1, b1);
  q.push(2, textEvent(EventType::Response, "gone0"));
  pushText(q, 1, "a");
  q.push(2, textEvent(EventType::Error, "gone1"));
  q.push(1, textEvent(EventType::Response, "bb"));
  pushText(q, 2, "gone2");
  pushText(q, 1, "ccc");
  q.push(1, textEvent(EventType::Error, "dddd"));
  q.forget(2);
  EXPECT_EQ(q.stats().queued, 4u);
  EXPECT_EQ(q.stats().bytes, 1u + 2 + 3 + 4);
  EXPECT_EQ(b1->bytes(), 10u);
  QueueBatch out;
  EXPECT_EQ(q.take(out, 2), 2u);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(describe(out, out.rows[0]), "1p:a");
  EXPECT_EQ(describe(out, out.rows[1]), "1e:bb");
  EXPECT_EQ(b1->bytes(), 7u);
  q.push(1, textEvent(EventType::Response, "eeeee"));
  pushText(q, 1, "ffffff");
  EXPECT_EQ(q.take(out, 1), 3u);
  EXPECT_EQ(describe(out, out.rows.at(0)), "1p:ccc");
  EXPECT_EQ(q.take(out, 100), 0u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(describe(out, out.rows[0]), "1e:dddd");
  EXPECT_EQ(describe(out, out.rows[1]), "1e:eeeee");
  EXPECT_EQ(describe(out, out.rows[2]), "1p:ffffff");
  EXPECT_EQ(b1->bytes(), 0u);
  EXPECT_EQ(q.stats().bytes, 0u);
}

TEST(EventQueueArena, ATakeWithoutAnArenaGivesEachPacketItsOwnPayload) {
  EventQueue q;  // dk_poll's take
  pushText(q, 1, "one");
  q.push(3, textEvent(EventType::Error, "between"));
  pushText(q, 2, "two");
  pushText(q, 1, "three");
  std::vector<QueuedEvent> out;
  EXPECT_EQ(q.take(out, 3), 1u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(textOf(out[0].ev.payload), "one");
  EXPECT_EQ(out[0].ev.type, EventType::Response);
  EXPECT_EQ(out[0].ev.cmd, 1);
  EXPECT_EQ(out[1].clientId, 3u);
  EXPECT_EQ(out[1].ev.message, "between");
  EXPECT_EQ(textOf(out[2].ev.payload), "two");
  q.take(out, 2);
  EXPECT_EQ(textOf(out.at(0).ev.payload), "three");
}

TEST(EventQueueArena, LargeOnesAreDeclinedBadOnesLeaveNothingAndAClosedQueueCountsDrops) {
  EventQueue q;
  PacketHeader h;
  DropReason reason = DropReason::Unexpected;
  bool wasEmpty = false;
  Copy c{Bytes(EventQueue::kArenaPacketMax + 1, 1)};
  EXPECT_EQ(q.pushPacket(1, h, c.bytes.size(), &Copy::fill, &c, reason, wasEmpty), PacketPost::Declined);
  EXPECT_EQ(q.pushPacket(1, h, 16, &failFill, nullptr, reason, wasEmpty), PacketPost::Failed);
  EXPECT_EQ(reason, DropReason::BadMac);
  EXPECT_TRUE(q.empty());
  Copy ok{bytesOf("x")};
  EXPECT_EQ(q.pushPacket(1, h, 1, &Copy::fill, &ok, reason, wasEmpty), PacketPost::Queued);
  EXPECT_TRUE(wasEmpty);
  QueueBatch out;
  q.take(out, 10);
  EXPECT_EQ(out.arena, bytesOf("x"));  // the failed fill's byte is gone
  q.close();
  EXPECT_EQ(pushText(q, 1, "late"), PacketPost::Dropped);
  EXPECT_EQ(q.stats().dropped, 1u);
  EXPECT_EQ(q.stats().pushed, 1u);
}

TEST(EventQueueArena, PacketsCountAgainstTheirClientsBoundAndTheTakeResumesIt) {
  EventQueue q;
  auto b = std::make_shared<ReceiveBacklog>(1000);
  int resumes = 0;
  b->resume = [&] { ++resumes; };
  q.track(1, b);
  for (int i = 0; i < 10; ++i) pushText(q, 1, std::string(100, 'p'));
  pushText(q, 2, std::string(900, 'o'));  // another client's bytes are not ours
  EXPECT_EQ(q.bytesFor(1), 1000u);
  EXPECT_EQ(b->bytes(), 1000u);
  ASSERT_TRUE(b->over());
  ASSERT_TRUE(b->armPause());
  QueueBatch out;
  q.take(out, 4);  // 600 left: above the low-water mark (500)
  EXPECT_EQ(resumes, 0);
  q.take(out, 1);  // 500: resumed
  EXPECT_EQ(resumes, 1);
  q.take(out, 100);
  EXPECT_EQ(b->bytes(), 0u);
  EXPECT_EQ(q.stats().bytes, 0u);
}

TEST(EventQueueArena, AForgottenClientsPacketsAreGoneMidQueueAndTheOthersStayIntact) {
  EventQueue q;
  auto b = std::make_shared<ReceiveBacklog>(1 << 20);
  q.track(2, b);
  for (int i = 0; i < 6; ++i) pushText(q, 1 + i % 2, "m" + std::to_string(i));
  q.forget(2);  // a client closed and released mid-batch
  EXPECT_EQ(b->bytes(), 0u);
  EXPECT_EQ(q.stats().bytes, 6u);
  pushText(q, 1, "after");
  QueueBatch out;
  q.take(out, 2);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(payloadOf(out, out.rows[0]), "m0");
  EXPECT_EQ(payloadOf(out, out.rows[1]), "m2");
  q.take(out, 10);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(payloadOf(out, out.rows[0]), "m4");
  EXPECT_EQ(payloadOf(out, out.rows[1]), "after");
  EXPECT_EQ(q.stats().bytes, 0u);
}

// --- TcpSession with a sink (fake clock) ---

struct SinkHarness : test::TcpHarness {
  SinkHarness() : TcpHarness(TcpOptions{}) {
    connect();
    events.clear();
    s.setPacketSink(&sink, 42);
  }
  QueueSink sink;
  QueueBatch out;
  void take() { sink.q.take(out, 1000); }
};

TEST(TcpSessionSink, ResponsesAndPushesAreDecryptedIntoTheQueueNotIntoEvents) {
  SinkHarness h;
  Bytes in;
  for (int i = 0; i < 50; ++i) {
    Bytes p = i % 5 == 4 ? h.server->push(2, 3, bytesOf("push" + std::to_string(i)))
                         : h.server->packet(2, 1, 1, bytesOf("resp" + std::to_string(i)));
    in.insert(in.end(), p.begin(), p.end());
  }
  h.fromServer(in);
  EXPECT_TRUE(h.events.empty());
  h.take();
  ASSERT_EQ(h.out.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    const QueueRow& e = h.out.rows[static_cast<size_t>(i)];
    EXPECT_EQ(e.clientId, 42u);
    EXPECT_TRUE(e.packet);
    const bool push = i % 5 == 4;
    EXPECT_EQ(e.type, push ? EventType::Push : EventType::Response);
    EXPECT_EQ(e.status, push ? wire::kStatusPush : 1);
    EXPECT_EQ(payloadOf(h.out, e), (push ? "push" : "resp") + std::to_string(i));
  }
}

TEST(TcpSessionSink, AnEventEmittedFirstKeepsItsPlaceAndABadMacIsAnErrorEventNotAPacket) {
  SinkHarness h;
  h.advanceTo(5000);  // a heartbeat goes out
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  Bytes in = h.server->heartbeatAnswer(wire::kNodeOnline, reqs[0].timestamp);
  Bytes r = h.server->packet(2, 1, 1, bytesOf("behind the heartbeat"));
  in.insert(in.end(), r.begin(), r.end());
  h.s.onData(in.data(), in.size(), h.now);
  h.take();
  EXPECT_TRUE(h.out.empty());  // the response waits behind the Heartbeat event, as an Event
  h.collect();
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.events[0].type, EventType::Heartbeat);
  EXPECT_EQ(textOf(h.events[1].payload), "behind the heartbeat");
  h.events.clear();
  const uint64_t bad = h.stats.snapshot().drops[static_cast<size_t>(DropReason::BadMac)];
  h.fromServer(h.server->tampered(2, 1, 1, bytesOf("forged")));
  h.take();
  EXPECT_TRUE(h.out.empty());
  EXPECT_TRUE(h.out.arena.empty());
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.events[0].code, ErrorCode::BadMac);
  EXPECT_EQ(h.stats.snapshot().drops[static_cast<size_t>(DropReason::BadMac)], bad + 1);
}

TEST(TcpSessionSink, ALargeResponseAndBuiltinsKeepTheEventPath) {
  SinkHarness h;
  const Bytes big(EventQueue::kArenaPacketMax, 9);
  h.fromServer(h.server->packet(2, 1, 1, big));
  h.fromServer(h.server->packet(2, 1, 1, bytesOf("small")));
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.events[0].payload, big);
  h.take();
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(payloadOf(h.out, h.out.rows[0]), "small");
  h.events.clear();
  h.fromServer(h.server->offlineNotice());  // a builtin push: handled by the session
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  h.take();
  EXPECT_TRUE(h.out.empty());
}

}  // namespace
}  // namespace diarkis
