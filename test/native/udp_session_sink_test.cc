// The UDP response path (issue 9, sixth session): a UdpSession with a PacketSink
// decrypts its application's responses and pushes straight into the host's
// EventQueue arena at its in-order delivery point (after the reliable channel's
// reordering and the reassembly of fragments), under a fake clock.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "queue_sink.h"
#include "rudp_sim.h"

namespace diarkis {
namespace {

using rudp_test::Harness;
using rudp_test::flagOf;
using test::payloadOf;
using test::QueueSink;

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

struct SinkHarness : Harness {
  explicit SinkHarness(rudp_test::Conditions c = {}, uint32_t seed = 1, UdpOptions o = UdpOptions{})
      : Harness(o, c, seed) {
    client.start(now);
    EXPECT_TRUE(runUntil([&] { return client.state() == ClientState::Connected && server.handshaked(); }, 5000));
    runFor(200);  // the first echo answered
    events.clear();
    client.setPacketSink(&sink, 42);
  }
  QueueSink sink;
  std::vector<QueueRow> out;  // every packet taken so far, in order
  std::vector<std::string> payloads;
  void take() {
    QueueBatch batch;
    sink.q.take(batch, 1u << 20);
    for (const QueueRow& e : batch.rows) {
      EXPECT_TRUE(e.packet);
      EXPECT_EQ(e.clientId, 42u);
      payloads.push_back(payloadOf(batch, e));
      out.push_back(e);
    }
  }
  size_t applicationEvents() const { return count(EventType::Response) + count(EventType::Push); }
  // The server's next DATs, one message each, as they would leave it.
  std::vector<Bytes> datsOf(const std::vector<std::string>& messages) {
    server.packing = false;
    for (const std::string& m : messages) server.push(2, 3, text(m), now);
    std::vector<Bytes> dats;
    for (Bytes& d : server.take()) {
      if (flagOf(d) == rudp::Flag::Dat) dats.push_back(std::move(d));
    }
    return dats;
  }
};

TEST(UdpSessionSink, ResponsesAndPushesAreDecryptedIntoTheQueueInOrderNotIntoEvents) {
  SinkHarness h;
  for (int i = 0; i < 60; ++i) {
    if (i % 5 == 4) {
      h.server.push(2, 3, text("push" + std::to_string(i)), h.now);
    } else {
      h.server.sendPacket(2, 1, 1, text("resp" + std::to_string(i)), h.now);  // packed several to a DAT
    }
  }
  h.server.sendUnreliable(2, 9, 1, text("unreliable"));
  ASSERT_TRUE(h.runUntil([&] { return h.sink.q.stats().queued == 61; }, 5000));
  EXPECT_EQ(h.applicationEvents(), 0u);
  h.take();
  ASSERT_EQ(h.out.size(), 61u);
  for (int i = 0; i < 60; ++i) {
    const QueueRow& e = h.out[static_cast<size_t>(i)];
    const bool push = i % 5 == 4;
    EXPECT_EQ(e.type, push ? EventType::Push : EventType::Response);
    EXPECT_EQ(e.ver, 2);
    EXPECT_EQ(e.cmd, push ? 3 : 1);
    EXPECT_EQ(e.status, push ? wire::kStatusPush : 1);
    EXPECT_EQ(h.payloads[static_cast<size_t>(i)], (push ? "push" : "resp") + std::to_string(i));
  }
  EXPECT_EQ(h.payloads[60], "unreliable");
  EXPECT_EQ(h.out[60].cmd, 9);
}

TEST(UdpSessionSink, ReorderedAndDuplicatedDatsAreQueuedOnceInOrder) {
  SinkHarness h;
  const std::vector<Bytes> dats = h.datsOf({"one", "two", "three", "four"});
  ASSERT_EQ(dats.size(), 4u);
  const uint64_t dups = h.drops(DropReason::Duplicate);
  // two, four, two again: held behind the gap, nothing delivered yet.
  for (size_t i : {1u, 3u, 1u}) h.client.onDatagram(dats[i].data(), dats[i].size(), h.now);
  h.take();
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.drops(DropReason::Duplicate), dups + 1);
  // one closes the gap up to two; three closes it; their repeats are acknowledged only.
  for (size_t i : {0u, 0u, 2u, 3u, 2u}) h.client.onDatagram(dats[i].data(), dats[i].size(), h.now);
  h.take();
  EXPECT_EQ(h.payloads, (std::vector<std::string>{"one", "two", "three", "four"}));
  EXPECT_EQ(h.drops(DropReason::Duplicate), dups + 4);
  // The next in order is handled where it lies, after the buffered ones.
  const std::vector<Bytes> next = h.datsOf({"five"});
  ASSERT_EQ(next.size(), 1u);
  h.client.onDatagram(next[0].data(), next[0].size(), h.now);
  h.take();
  EXPECT_EQ(h.payloads.back(), "five");
  h.flush();
  EXPECT_EQ(h.applicationEvents(), 0u);
}

TEST(UdpSessionSink, ALossyLinkDeliversEveryPacketOnceInOrder) {
  SinkHarness h({0.1, 0.3, 0.2, 20}, 7);
  for (int i = 0; i < 300; ++i) h.server.push(2, 3, text("m" + std::to_string(i)), h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.sink.q.stats().queued == 300; }, 120000));
  h.take();
  ASSERT_EQ(h.payloads.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(h.payloads[static_cast<size_t>(i)], "m" + std::to_string(i));
  EXPECT_GT(h.drops(DropReason::Duplicate), 0u);  // the link did repeat some
  EXPECT_EQ(h.applicationEvents(), 0u);
}

TEST(UdpSessionSink, AFragmentedResponseIsReassembledFirstALargerOneKeepsTheEventPath) {
  SinkHarness h({0, 0.5, 0, 20}, 3);  // chunks reordered on the way
  Bytes mid(3000);
  for (size_t i = 0; i < mid.size(); ++i) mid[i] = static_cast<uint8_t>('a' + i % 26);
  Bytes big(EventQueue::kArenaPacketMax, 9);
  h.server.sendPacket(2, 1, 1, mid, h.now);  // cut into three chunks, each its own DAT
  ASSERT_TRUE(h.runUntil([&] { return h.sink.q.stats().queued == 1; }, 10000));
  h.server.sendPacket(2, 1, 1, big, h.now);  // sealed above kArenaPacketMax: its own buffer
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Response) == 1; }, 10000));
  EXPECT_EQ(h.last(EventType::Response)->payload, big);
  h.server.sendPacket(2, 1, 1, text("after"), h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.sink.q.stats().queued == 2; }, 10000));
  h.take();
  EXPECT_EQ(h.payloads, (std::vector<std::string>{std::string(mid.begin(), mid.end()), "after"}));
  EXPECT_EQ(h.count(EventType::Response), 1u);
  EXPECT_EQ(h.clientStats.snapshot().reassemblyBytes, 0u);
}

TEST(UdpSessionSink, AForgedMacIsACountedErrorEventAndNothingQueued) {
  SinkHarness h;
  Bytes sealed;
  SessionCrypto server(rudp_test::testKeys());
  server.seal(reinterpret_cast<const uint8_t*>("forged"), 6, sealed);
  sealed[10] ^= 1;  // inside the MAC
  Bytes packet;
  appendResponse(packet, 2, 1, 1, sealed.data(), sealed.size());
  const uint64_t bad = h.drops(DropReason::BadMac);
  h.server.sendEncoded(packet, h.now);
  h.runFor(100);
  EXPECT_EQ(h.drops(DropReason::BadMac), bad + 1);
  ASSERT_EQ(h.count(EventType::Error), 1u);
  EXPECT_EQ(h.last(EventType::Error)->code, ErrorCode::BadMac);
  EXPECT_EQ(h.sink.q.stats().queued, 0u);
  QueueBatch out;
  h.sink.q.take(out, 10);
  EXPECT_TRUE(out.arena.empty());
  EXPECT_EQ(h.client.state(), ClientState::Connected);
}

// An echo answer and a response in one DAT: the Echo event is emitted first, so the
// response keeps the Event path behind it; the next DAT's goes to the queue again.
TEST(UdpSessionSink, AnEventEmittedEarlierInTheSameReadKeepsItsPlace) {
  SinkHarness h;
  SessionCrypto server(rudp_test::testKeys());
  Bytes two;
  auto add = [&](uint8_t ver, uint16_t cmd, const Bytes& body) {
    Bytes sealed;
    server.seal(body.data(), body.size(), sealed);
    appendResponse(two, ver, cmd, wire::kStatusOk, sealed.data(), sealed.size());
  };
  add(wire::kVerBuiltin, wire::kCmdKeepAlive, h.server.echoAnswerBody(h.now));
  add(2, 1, text("behind the echo"));
  h.server.sendEncoded(two, h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Response) == 1; }, 1000));
  ASSERT_EQ(h.events.size(), 2u);
  EXPECT_EQ(h.events[0].type, EventType::Echo);
  EXPECT_EQ(h.events[1].type, EventType::Response);
  EXPECT_EQ(std::string(h.events[1].payload.begin(), h.events[1].payload.end()), "behind the echo");
  EXPECT_EQ(h.sink.q.stats().queued, 0u);
  h.server.sendPacket(2, 1, 1, text("next"), h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.sink.q.stats().queued == 1; }, 1000));
  h.take();
  EXPECT_EQ(h.payloads, std::vector<std::string>{"next"});
}

TEST(UdpSessionSink, BuiltinsKeepTheEventPath) {
  SinkHarness h;
  h.server.notifications = {0, 8, 2, 0, 5, 'n', 'o', 't'};  // a push in the next echo answer
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Push) == 1; }, 10000));
  EXPECT_EQ(h.last(EventType::Push)->cmd, 5);
  h.server.push(0, wire::kCmdKeepAlive, Bytes{wire::kNodeOffline}, h.now);  // the offline notice
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Offline) == 1; }, 1000));
  EXPECT_EQ(h.count(EventType::Push), 1u);
  EXPECT_EQ(h.sink.q.stats().queued, 0u);
}

}  // namespace
}  // namespace diarkis
