// The client's UdpSession against a simulated server, under a fake clock:
// handshake, the first-message rule, echo, offline, FIN/terminate, close, sends.
#include <gtest/gtest.h>

#include "rudp_sim.h"

namespace diarkis {
namespace {

using rudp_test::Harness;
using rudp_test::flagOf;
using rudp_test::seqOf;

UdpOptions baseOptions() {
  UdpOptions o;
  o.connectTimeoutMs = 3000;
  return o;
}

// For tests that follow single datagrams at exact times: every flush sends at once.
UdpOptions unbatched() {
  UdpOptions o = baseOptions();
  o.packDelayMs = 0;
  o.ackDelayMs = 0;
  return o;
}

bool connected(Harness& h) { return h.client.state() == ClientState::Connected; }

void connect(Harness& h) {
  h.client.start(h.now);
  ASSERT_TRUE(h.runUntil([&] { return connected(h) && h.server.handshaked(); }, 5000));
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

TEST(RudpSession, SynCarriesSidAndRepeatsUntilAnswered) {
  Harness h(baseOptions(), {}, 1);
  h.server.answerSyn = false;
  h.client.start(0);
  h.runFor(1200);
  ASSERT_EQ(h.clientSent.size(), 3u);  // at 0, 500, 1000
  Bytes syn{0, 0, 0, 2};
  syn.insert(syn.end(), h.keys.sid.begin(), h.keys.sid.end());
  for (const Bytes& d : h.clientSent) EXPECT_EQ(d, syn);
  EXPECT_EQ(h.client.state(), ClientState::Connecting);
  h.server.answerSyn = true;
  ASSERT_TRUE(h.runUntil([&] { return connected(h); }, 1000));
  EXPECT_EQ(h.count(EventType::Connect), 1u);
  EXPECT_FALSE(h.events.front().reconnected);
  EXPECT_EQ(h.client.serverInitialSeq(), h.server.initialSeq());
}

TEST(RudpSession, SynRepeatsBackOffAfterFourToEightIntervals) {
  // A node too busy to answer is not sent a SYN every 500 ms by each waiting client.
  UdpOptions o = baseOptions();
  o.connectTimeoutMs = 30000;
  Harness h(o, {}, 1);
  h.server.answerSyn = false;
  h.client.start(0);
  h.runFor(2001);
  EXPECT_EQ(h.clientSent.size(), 5u);  // 0, 500, 1000, 1500, 2000: as before
  h.runFor(19999 - 2001);
  EXPECT_EQ(h.clientSent.size(), 10u);  // then 3000, 5000, 9000, 13000, 17000 (every 4000)
  h.runFor(1002);
  EXPECT_EQ(h.clientSent.size(), 11u);  // 21000
}

TEST(RudpSession, ConnectTimeoutWithoutSynAnswer) {
  Harness h(baseOptions(), {}, 2);
  h.server.answerSyn = false;
  h.client.start(0);
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 10000));
  EXPECT_EQ(h.now, 3000);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ConnectTimeout);
  EXPECT_EQ(h.count(EventType::Connect), 0u);
}

TEST(RudpSession, HandshakeAckThenFirstDatIsSeqZero) {
  Harness h(baseOptions(), {}, 3);
  connect(h);
  // After the SYNs: ACK S with the SID, then the client's DATs from seq 0.
  size_t i = 0;
  while (flagOf(h.clientSent[i]) == rudp::Flag::Syn) ++i;
  const Bytes& ack = h.clientSent[i];
  ASSERT_EQ(ack.size(), 20u);
  EXPECT_EQ(flagOf(ack), rudp::Flag::Ack);
  EXPECT_EQ(seqOf(ack), h.server.initialSeq());
  EXPECT_TRUE(std::equal(h.keys.sid.begin(), h.keys.sid.end(), ack.begin() + 4));
  ASSERT_GT(h.clientSent.size(), i + 1);
  EXPECT_EQ(flagOf(h.clientSent[i + 1]), rudp::Flag::Dat);
  EXPECT_EQ(seqOf(h.clientSent[i + 1]), 0u);
}

TEST(RudpSession, RepeatedSynAnswerIsAnsweredAgainForeignOneDropped) {
  Harness h(baseOptions(), {}, 4);
  connect(h);
  h.clientSent.clear();
  const Bytes again = h.server.synAnswer();
  h.client.onDatagram(again.data(), again.size(), h.now);
  h.flush();
  ASSERT_EQ(h.clientSent.size(), 1u);
  EXPECT_EQ(flagOf(h.clientSent[0]), rudp::Flag::Ack);
  EXPECT_EQ(seqOf(h.clientSent[0]), h.server.initialSeq());
  Bytes other;
  rudp::appendHeader(other, rudp::seqAdd(h.server.initialSeq(), 9), rudp::Flag::Syn);
  h.client.onDatagram(other.data(), other.size(), h.now);
  EXPECT_EQ(h.drops(DropReason::Unexpected), 1u);
  EXPECT_EQ(h.count(EventType::Connect), 1u);
  EXPECT_TRUE(connected(h));
}

TEST(RudpSession, ServerSendsNothingReliableBeforeHandshakeAndFirstMessageNeedsRack) {
  Harness h(unbatched(), {}, 5);
  h.server.packing = false;
  h.client.start(0);
  std::vector<Bytes> up;
  h.client.takeDatagrams(up);
  ASSERT_EQ(up.size(), 1u);
  h.server.onDatagram(up[0], 0);           // SYN
  h.server.push(2, 3, text("first"), 0);   // queued: the handshake is not complete
  h.server.push(2, 3, text("second"), 0);
  std::vector<Bytes> down = h.server.take();
  ASSERT_EQ(down.size(), 1u);              // only the SYN answer
  EXPECT_EQ(flagOf(down[0]), rudp::Flag::Syn);
  EXPECT_EQ(down[0].size(), 4u);           // (ours) empty body
  h.client.onDatagram(down[0].data(), down[0].size(), 1);
  up.clear();
  h.client.takeDatagrams(up);
  ASSERT_GE(up.size(), 2u);
  h.server.onDatagram(up[0], 2);           // ACK S completes the handshake
  down = h.server.take();
  EXPECT_EQ(h.server.reliableBeforeHandshake, 0u);
  ASSERT_EQ(down.size(), 3u);              // DAT S, RDAT S, DAT S+1
  const uint32_t s = h.server.initialSeq();
  EXPECT_EQ(flagOf(down[0]), rudp::Flag::Dat);
  EXPECT_EQ(flagOf(down[1]), rudp::Flag::Rdat);
  EXPECT_EQ(seqOf(down[0]), s);
  EXPECT_EQ(seqOf(down[1]), s);
  EXPECT_EQ(seqOf(down[2]), rudp::seqAdd(s, 1));
  // Only the DAT S copy reaches the client: its ACK S does not clear the message.
  h.client.onDatagram(down[0].data(), down[0].size(), 3);
  up.clear();
  h.client.takeDatagrams(up);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(flagOf(up[0]), rudp::Flag::Ack);
  h.server.onDatagram(up[0], 4);
  EXPECT_EQ(h.server.channel().inFlight(), 2u);
  // The RDAT S copy: a duplicate for the client (delivered once), answered by RACK S.
  h.client.onDatagram(down[1].data(), down[1].size(), 5);
  up.clear();
  h.client.takeDatagrams(up);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(flagOf(up[0]), rudp::Flag::Rack);
  h.server.onDatagram(up[0], 6);
  EXPECT_EQ(h.server.channel().inFlight(), 1u);
  h.client.onDatagram(down[2].data(), down[2].size(), 7);
  up.clear();
  h.client.takeDatagrams(up);
  h.server.onDatagram(up[0], 8);  // plain ACK clears S+1
  EXPECT_TRUE(h.server.channel().idle());
  h.client.takeEvents(h.events);
  ASSERT_EQ(h.count(EventType::Push), 2u);
  EXPECT_EQ(h.events[1].payload, text("first"));
  EXPECT_EQ(h.events[2].payload, text("second"));
  EXPECT_EQ(h.drops(DropReason::Duplicate), 1u);
}

TEST(RudpSession, LostHandshakeAckIsCoveredByTheFirstDat) {
  Harness h(unbatched(), {}, 6);
  h.client.start(0);
  std::vector<Bytes> up;
  h.client.takeDatagrams(up);
  h.server.onDatagram(up[0], 0);
  std::vector<Bytes> down = h.server.take();
  h.client.onDatagram(down[0].data(), down[0].size(), 1);
  up.clear();
  h.client.takeDatagrams(up);
  ASSERT_GE(up.size(), 2u);
  EXPECT_FALSE(h.server.handshaked());
  h.server.onDatagram(up[1], 2);  // ACK S lost; the echo DAT arrives
  EXPECT_TRUE(h.server.handshaked());
  EXPECT_EQ(h.server.echoCount, 1u);
}

TEST(RudpSession, DatagramsBeforeTheHandshakeAreDropped) {
  Harness h(baseOptions(), {}, 7);
  h.client.start(0);
  Bytes dat;
  rudp::appendHeader(dat, 5, rudp::Flag::Dat);
  dat.push_back(1);
  h.client.onDatagram(dat.data(), dat.size(), 1);
  EXPECT_EQ(h.drops(DropReason::Unexpected), 1u);
  EXPECT_EQ(h.client.state(), ClientState::Connecting);
}

TEST(RudpSession, ClientKeyIsTheFirstReliableRequest) {
  UdpOptions o = baseOptions();
  o.clientKey = "key-123";
  Harness h(o, {}, 8);
  connect(h);
  ASSERT_TRUE(h.runUntil([&] { return !h.server.clientKeys.empty(); }, 1000));
  EXPECT_EQ(h.server.clientKeys, std::vector<std::string>{"key-123"});
  ASSERT_TRUE(h.runUntil([&] { return h.server.echoCount > 0; }, 1000));
}

TEST(RudpSession, EchoBodyAndAnswerWithoutNotifications) {
  UdpOptions o = unbatched();
  o.localAddresses = {"10.0.0.2:5000", "[::1]:5000"};
  Harness h(o, {}, 9);
  connect(h);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Echo) == 1; }, 1000));
  const Event* e = h.last(EventType::Echo);
  EXPECT_EQ(e->address, "203.0.113.7:40000");
  EXPECT_DOUBLE_EQ(e->rttMs, 40);  // 20 ms each way
  EXPECT_EQ(h.client.publicAddress(), "203.0.113.7:40000");
  EXPECT_EQ(h.count(EventType::Push), 0u);
  const Bytes& body = h.server.lastEchoBody.at(0);
  ASSERT_EQ(body.size(), 8u + 4 + 13 + 4 + 10);
  EXPECT_EQ(rudp_test::getF64LE(body.data()), 40);  // sent when the SYN answer arrived
  EXPECT_EQ(Bytes(body.begin() + 8, body.begin() + 12), (Bytes{0, 0, 0, 13}));
  EXPECT_EQ(std::string(body.begin() + 12, body.begin() + 25), "10.0.0.2:5000");
  EXPECT_EQ(std::string(body.begin() + 29, body.end()), "[::1]:5000");
  EXPECT_EQ(h.clientStats.heartbeatsAnswered.load(), 1u);
  // The next echo follows one interval later.
  ASSERT_TRUE(h.runUntil([&] { return h.server.echoCount == 2; }, 6000));
  EXPECT_EQ(h.now, 40 + 5000 + 20);
}

Bytes notification(uint8_t ver, uint16_t cmd, const std::string& payload) {
  const auto len = static_cast<uint16_t>(5 + payload.size());
  Bytes b{static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len), ver, static_cast<uint8_t>(cmd >> 8),
          static_cast<uint8_t>(cmd)};
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

TEST(RudpSession, EchoNotificationsAreDeliveredAsPushes) {
  Harness h(baseOptions(), {}, 10);
  h.server.notifications = notification(0, 400, "hello");
  const Bytes second = notification(2, 0x0102, "");
  h.server.notifications.insert(h.server.notifications.end(), second.begin(), second.end());
  connect(h);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Echo) == 1; }, 1000));
  ASSERT_EQ(h.count(EventType::Push), 2u);
  std::vector<const Event*> pushes;
  for (const Event& e : h.events) {
    if (e.type == EventType::Push) pushes.push_back(&e);
  }
  EXPECT_EQ(pushes[0]->ver, 0);
  EXPECT_EQ(pushes[0]->cmd, 400);
  EXPECT_EQ(pushes[0]->payload, text("hello"));
  EXPECT_EQ(pushes[1]->ver, 2);
  EXPECT_EQ(pushes[1]->cmd, 0x0102);
  EXPECT_TRUE(pushes[1]->payload.empty());
  EXPECT_EQ(h.last(EventType::Echo)->address, "203.0.113.7:40000");
}

TEST(RudpSession, MalformedNotificationIsCountedEarlierOnesKept) {
  Harness h(baseOptions(), {}, 11);
  h.server.notifications = notification(0, 400, "ok");
  h.server.notifications.push_back(0);
  h.server.notifications.push_back(3);  // len 3 < 5
  h.server.notifications.push_back(0);
  connect(h);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Echo) == 1; }, 1000));
  EXPECT_EQ(h.count(EventType::Push), 1u);
  EXPECT_EQ(h.drops(DropReason::BadBody), 1u);
  EXPECT_TRUE(connected(h));
}

TEST(RudpSession, EchoAnswerParsingEdgeCases) {
  Harness h(baseOptions(), {}, 12);
  connect(h);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Echo) == 1; }, 1000));
  // addressEnd beyond the body: no notifications, the address stops before addressEnd.
  Bytes b{1};
  rudp_test::putF64LE(b, h.now);
  const std::string addr = "1.2.3.4:5";
  b.insert(b.end(), addr.begin(), addr.end());
  b.push_back(0x7F);
  b.push_back(0xFF);
  h.server.sendPacket(0, 1, 1, b, h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Echo) == 2; }, 1000));
  EXPECT_EQ(h.last(EventType::Echo)->address, addr);
  // Too short, and addressEnd inside the timestamp: dropped, counted.
  h.server.sendPacket(0, 1, 1, Bytes{1, 2, 3}, h.now);
  Bytes bad{1};
  rudp_test::putF64LE(bad, h.now);
  bad.push_back(0);
  bad.push_back(3);
  h.server.sendPacket(0, 1, 1, bad, h.now);
  h.runFor(100);
  EXPECT_EQ(h.drops(DropReason::BadBody), 2u);
  EXPECT_EQ(h.count(EventType::Echo), 2u);
  EXPECT_TRUE(connected(h));
}

TEST(RudpSession, OfflineIsRaisedOnce) {
  UdpOptions o = baseOptions();
  o.echoIntervalMs = 1000;
  Harness h(o, {}, 13);
  connect(h);
  h.server.nodeState = wire::kNodeOffline;
  Bytes notice{wire::kNodeOffline};
  rudp_test::putF64LE(notice, 0);
  h.server.push(0, wire::kCmdKeepAlive, notice, h.now);  // the offline notice push
  h.server.push(0, wire::kCmdKeepAlive, notice, h.now);
  h.runFor(3500);
  EXPECT_GE(h.count(EventType::Echo), 3u);
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  EXPECT_EQ(h.count(EventType::Push), 0u);  // the notice raises offline only
}

// Echo liveness (the miss timeout and what counts as a sign of life): rudp_liveness_test.cc.

TEST(RudpSession, RetransmissionLimitTimesOut) {
  UdpOptions o = unbatched();
  o.maxRetries = 2;
  o.adaptive = false;  // the wire-default fixed schedule, asserted below
  o.echoIntervalMs = 100000;
  Harness h(o, {}, 15);
  connect(h);
  h.runFor(100);
  // Every later datagram from the client is lost.
  rudp_test::Link dead({1.0, 0, 0, 20}, 99);
  std::swap(h.up, dead);
  const uint8_t body[1] = {1};
  ASSERT_EQ(h.client.send(2, 1, body, 1, true, h.now), ErrorCode::None);
  const double sentAt = h.now;
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 60000));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
  EXPECT_EQ(h.now, sentAt + 1000 + 2000 + 4000);
  EXPECT_EQ(h.clientStats.retransmits.load(), 2u);
}

TEST(RudpSession, FinFromServerIsAckedAndCloses) {
  Harness h(baseOptions(), {}, 16);
  connect(h);
  h.clientSent.clear();
  Bytes fin;
  rudp::appendHeader(fin, 0, rudp::Flag::Fin);
  h.client.onDatagram(fin.data(), fin.size(), h.now);
  h.flush();
  ASSERT_EQ(h.clientSent.size(), 1u);
  EXPECT_EQ(h.clientSent[0].size(), 20u);
  EXPECT_EQ(flagOf(h.clientSent[0]), rudp::Flag::Ack);
  EXPECT_EQ(seqOf(h.clientSent[0]), 0u);
  EXPECT_TRUE(h.client.closed());
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByServer);
  h.client.onDatagram(fin.data(), fin.size(), h.now);  // after close: counted, nothing else
  EXPECT_EQ(h.count(EventType::Disconnect), 1u);
}

TEST(RudpSession, FinPushReasonIsTheDisconnectCode) {
  Harness h(baseOptions(), {}, 17);
  connect(h);
  h.server.push(0, wire::kCmdFin, text("server-shutdown"), h.now);
  h.runFor(100);
  h.server.sendFin();
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 1000));
  const Event* d = h.last(EventType::Disconnect);
  EXPECT_EQ(d->code, ErrorCode::ServerShutdown);
  EXPECT_EQ(d->message, "server-shutdown");
}

TEST(RudpSession, TerminateDatagramCloses) {
  Harness h(baseOptions(), {}, 18);
  connect(h);
  h.server.push(0, wire::kCmdFin, text("kicked"), h.now);
  h.runFor(100);
  h.server.sendTerminate();
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 1000));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Kicked);
  Harness plain(baseOptions(), {}, 19);
  connect(plain);
  plain.server.sendTerminate();
  ASSERT_TRUE(plain.runUntil([&] { return plain.client.closed(); }, 1000));
  EXPECT_EQ(plain.last(EventType::Disconnect)->code, ErrorCode::ClosedByServer);
}

TEST(RudpSession, GracefulCloseFlushesThenFin) {
  Harness h(baseOptions(), {0.5, 0, 0, 20}, 20);
  connect(h);
  for (uint32_t i = 0; i < 20; ++i) {
    const Bytes b = rudp_test::u32(i);
    ASSERT_EQ(h.client.send(2, 4, b.data(), b.size(), true, h.now), ErrorCode::None);
  }
  h.client.close(true, h.now);
  EXPECT_EQ(h.client.state(), ClientState::Closing);
  const uint8_t one[1] = {1};
  EXPECT_EQ(h.client.send(2, 4, one, 1, true, h.now), ErrorCode::NotConnected);
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 60000));
  ASSERT_EQ(h.server.requests.size(), 20u);
  for (uint32_t i = 0; i < 20; ++i) EXPECT_EQ(rudp_test::getU32(h.server.requests[i].body), i);
  const Bytes& fin = h.clientSent.back();
  EXPECT_EQ(flagOf(fin), rudp::Flag::Fin);
  EXPECT_EQ(seqOf(fin), 0u);
  EXPECT_TRUE(std::equal(h.keys.sid.begin(), h.keys.sid.end(), fin.begin() + 4));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByUser);
  EXPECT_EQ(h.budget.queued(), 0u);
}

TEST(RudpSession, GracefulCloseIsBoundedByCloseTimeout) {
  UdpOptions o = baseOptions();
  o.closeTimeoutMs = 2500;
  Harness h(o, {}, 21);
  connect(h);
  h.runFor(100);
  rudp_test::Link dead({1.0, 0, 0, 20}, 98);
  std::swap(h.up, dead);
  const uint8_t b[1] = {1};
  ASSERT_EQ(h.client.send(2, 1, b, 1, true, h.now), ErrorCode::None);
  const double closedAt = h.now;
  h.client.close(true, h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 60000));
  EXPECT_EQ(h.now, closedAt + 2500);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByUser);
  EXPECT_EQ(h.budget.queued(), 0u);
}

TEST(RudpSession, UnreliableSends) {
  Harness h(baseOptions(), {}, 22);
  const uint8_t small[3] = {1, 2, 3};
  h.client.start(0);
  EXPECT_EQ(h.client.send(2, 9, small, 3, false, 0), ErrorCode::NotConnected);
  connect(h);
  h.clientSent.clear();
  ASSERT_EQ(h.client.send(2, 9, small, 3, false, h.now), ErrorCode::None);
  h.flush();
  ASSERT_EQ(h.clientSent.size(), 1u);
  EXPECT_EQ(flagOf(h.clientSent[0]), rudp::Flag::Udp);
  EXPECT_EQ(seqOf(h.clientSent[0]), 0u);
  // The largest body that fits: 1400 - 10 header - 16 SID - 4 length - 32 MAC = 1338, padded to 16.
  const Bytes big(1400, 0);
  EXPECT_EQ(h.client.send(2, 9, big.data(), big.size(), false, h.now), ErrorCode::PayloadTooLarge);
  EXPECT_EQ(h.client.send(2, 9, big.data(), 1327, false, h.now), ErrorCode::None);
  EXPECT_EQ(h.client.send(2, 9, big.data(), 1328, false, h.now), ErrorCode::PayloadTooLarge);
  // Unreliable answers from the server are delivered too.
  h.server.sendUnreliable(2, 9, 1, text("pong"));
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Response) == 1; }, 1000));
  EXPECT_EQ(h.last(EventType::Response)->payload, text("pong"));
}

TEST(RudpSession, LargeMessagesAreFragmentedBothWays) {
  Harness h(baseOptions(), {0.1, 0.2, 0.1, 20}, 23);
  connect(h);
  Bytes big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  ASSERT_EQ(h.client.send(2, 1, big.data(), big.size(), true, h.now), ErrorCode::None);
  h.server.push(2, 3, big, h.now);
  ASSERT_TRUE(h.runUntil([&] { return !h.server.requests.empty() && h.count(EventType::Push) == 1; }, 60000));
  EXPECT_EQ(h.server.requests[0].body, big);
  EXPECT_EQ(h.server.requests[0].cmd, 1);
  EXPECT_EQ(h.last(EventType::Push)->payload, big);
  for (const Bytes& d : h.clientSent) EXPECT_LE(d.size(), 4u + 1400u);
}

TEST(RudpSession, BadMacIsDroppedAndCountedSessionLives) {
  Harness h(baseOptions(), {}, 24);
  connect(h);
  Bytes sealed;
  SessionCrypto other(rudp_test::testKeys());
  other.seal(reinterpret_cast<const uint8_t*>("hello"), 5, sealed);
  sealed[10] ^= 1;  // inside the MAC
  Bytes packet;
  appendResponse(packet, 2, 1, 1, sealed.data(), sealed.size());
  h.server.sendEncoded(packet, h.now);
  h.runFor(100);
  EXPECT_EQ(h.drops(DropReason::BadMac), 1u);
  ASSERT_EQ(h.count(EventType::Error), 1u);
  EXPECT_EQ(h.last(EventType::Error)->code, ErrorCode::BadMac);
  EXPECT_EQ(h.count(EventType::Response), 0u);
  EXPECT_TRUE(connected(h));
}

TEST(RudpSession, SeveralPacketsInOneDatAndGarbageAreHandled) {
  Harness h(baseOptions(), {}, 25, /*encrypted=*/false);
  connect(h);
  Bytes two;
  appendResponse(two, 2, 1, 1, reinterpret_cast<const uint8_t*>("a"), 1);
  appendResponse(two, 2, 3, 0xFF, reinterpret_cast<const uint8_t*>("b"), 1);
  const size_t good = two.size();
  two.push_back(0xFE);  // a truncated third packet
  h.server.sendEncoded(two, h.now);
  h.runFor(100);
  EXPECT_EQ(h.count(EventType::Response), 1u);
  EXPECT_EQ(h.count(EventType::Push), 1u);
  EXPECT_GT(good, 0u);
  EXPECT_EQ(h.drops(DropReason::Truncated), 1u);
  const uint8_t junk[5] = {1, 2, 3, 9, 0};
  h.client.onDatagram(junk, 5, h.now);
  h.client.onDatagram(junk, 2, h.now);
  const Bytes records{1, 0, 0, 4, 2};  // a partial server record
  h.client.onDatagram(records.data(), records.size(), h.now);
  EXPECT_EQ(h.drops(DropReason::UnknownFlag), 1u);
  EXPECT_EQ(h.drops(DropReason::Truncated), 3u);
  Bytes oversized;
  rudp::appendHeader(oversized, 0, rudp::Flag::Udp);
  oversized.resize(4 + 1401, 0);  // receivers accept up to 1400 bytes of body
  h.client.onDatagram(oversized.data(), oversized.size(), h.now);
  EXPECT_EQ(h.drops(DropReason::TooLarge), 1u);
  EXPECT_TRUE(connected(h));
}

Bytes fragChunk(uint16_t id, uint16_t index, uint16_t count, size_t n) {
  Bytes c{0xFF, 0xFE, 0xFD, 0xFC};
  for (uint16_t v : {id, index, count}) {
    c.push_back(static_cast<uint8_t>(v >> 8));
    c.push_back(static_cast<uint8_t>(v));
  }
  c.resize(c.size() + n, 0x42);
  return c;
}

// A hostile server's fragment-start flood (issue 11): the second id before the
// first message completes ends the connection; one chunk is all that was held.
TEST(RudpSession, FragmentOfAnotherIdEndsTheConnection) {
  Harness h(baseOptions(), {}, 27, /*encrypted=*/false);
  connect(h);
  for (uint16_t id = 0; id < 2000; ++id) h.server.sendEncoded(fragChunk(id, 0, 807, 11), h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Disconnect) == 1; }, 5000));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ProtocolError);
  EXPECT_EQ(h.last(EventType::Disconnect)->message,
            "protocol error: bad-fragment: chunk of another id before the current message completed");
  EXPECT_EQ(h.drops(DropReason::BadFragment), 1u);
  EXPECT_LE(h.clientStats.snapshot().reassemblyBytes, 11u);
}

TEST(RudpSession, MalformedChunkEndsTheConnection) {
  Harness h(baseOptions(), {}, 28, /*encrypted=*/false);
  connect(h);
  h.server.sendEncoded(fragChunk(0, 5, 2, 1), h.now);  // index out of range
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Disconnect) == 1; }, 5000));
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ProtocolError);
  EXPECT_EQ(h.drops(DropReason::BadFragment), 1u);
}

// The partial message is visible in stats while it is open, and released when it completes.
TEST(RudpSession, ReassemblyBytesFollowThePartialMessage) {
  Harness h(baseOptions(), {}, 29, /*encrypted=*/false);
  connect(h);
  // 1290 + the 10-byte header: the sim server does not cut these again.
  h.server.sendEncoded(fragChunk(0, 0, 3, 1290), h.now);
  h.server.sendEncoded(fragChunk(0, 1, 3, 1290), h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.clientStats.snapshot().reassemblyBytes == 2580; }, 5000));
  Bytes tail;
  appendResponse(tail, 2, 1, wire::kStatusPush, reinterpret_cast<const uint8_t*>("x"), 1);
  Bytes last = fragChunk(0, 2, 3, 0);
  last.insert(last.end(), tail.begin(), tail.end());
  h.server.sendEncoded(last, h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.clientStats.snapshot().reassemblyBytes == 0; }, 5000));
  // The 2580 filler bytes do not parse as packets: counted, and not a fragment error.
  EXPECT_EQ(h.drops(DropReason::BadFragment), 0u);
  EXPECT_TRUE(connected(h));
}

TEST(RudpSession, QueueFullAndDrain) {
  UdpOptions o = baseOptions();
  o.highWaterMark = 200;
  o.maxQueuedBytes = 400;
  Harness h(o, {}, 26, /*encrypted=*/false);
  connect(h);
  const Bytes b(64, 1);  // 90 bytes per packet: 10 header + 16 SID + 64
  bool writable = true;
  ASSERT_EQ(h.client.send(2, 1, b.data(), b.size(), true, h.now, &writable), ErrorCode::None);
  EXPECT_TRUE(writable);
  ASSERT_EQ(h.client.send(2, 1, b.data(), b.size(), true, h.now, &writable), ErrorCode::None);
  ASSERT_EQ(h.client.send(2, 1, b.data(), b.size(), true, h.now, &writable), ErrorCode::None);
  EXPECT_FALSE(writable);
  ASSERT_EQ(h.client.send(2, 1, b.data(), b.size(), true, h.now, &writable), ErrorCode::None);
  EXPECT_EQ(h.client.send(2, 1, b.data(), b.size(), true, h.now, &writable), ErrorCode::QueueFull);
  EXPECT_EQ(h.budget.queued(), 360u);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Drain) == 1; }, 1000));
  ASSERT_TRUE(h.runUntil([&] { return h.budget.queued() == 0; }, 1000));
  EXPECT_EQ(h.server.requests.size(), 4u);
}

TEST(RudpSession, SendsWhileConnectingWaitForTheHandshake) {
  UdpOptions o = baseOptions();
  o.sendWindow = 4;
  Harness h(o, {}, 27);
  h.client.start(0);
  for (uint32_t i = 0; i < 30; ++i) {
    Bytes b = rudp_test::u32(i);
    b.resize(400, 7);  // three to a DAT: ten DATs, more than the window
    ASSERT_EQ(h.client.send(2, 4, b.data(), b.size(), true, 0), ErrorCode::None);
  }
  h.flush();
  EXPECT_EQ(h.clientSent.size(), 1u);  // only the SYN
  ASSERT_TRUE(h.runUntil([&] { return connected(h); }, 1000));
  EXPECT_EQ(h.client.channel().inFlight(), 4u);  // the window; the rest waits locally
  EXPECT_GT(h.client.channel().queued(), 0u);
  ASSERT_TRUE(h.runUntil([&] { return h.server.requests.size() == 30; }, 10000));
  for (uint32_t i = 0; i < 30; ++i) EXPECT_EQ(rudp_test::getU32(h.server.requests[i].body), i);
}

TEST(RudpSession, CloseBeforeConnectAndDestroy) {
  Harness h(baseOptions(), {}, 28);
  h.client.start(0);
  h.client.close(true, 1);
  h.flush();
  EXPECT_TRUE(h.client.closed());
  ASSERT_NE(h.last(EventType::Disconnect), nullptr);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByUser);
  Harness d(baseOptions(), {}, 29);
  connect(d);
  d.clientSent.clear();
  d.client.close(false, d.now);
  d.flush();
  EXPECT_TRUE(d.client.closed());
  ASSERT_EQ(d.clientSent.size(), 1u);
  EXPECT_EQ(flagOf(d.clientSent[0]), rudp::Flag::Fin);
  EXPECT_EQ(d.client.nextDeadline(), UdpSession::kNoDeadline);
}

}  // namespace
}  // namespace diarkis

namespace diarkis {
namespace {

TEST(RudpSession, TheFirstDatAndReliableSendsBeforeAnUnreliableOneLeaveFirst) {
  Harness h(baseOptions(), {}, 41);
  h.client.start(0);
  std::vector<Bytes> out;
  h.client.takeDatagrams(out);
  Bytes syn{1, 0, 0, 2};
  h.client.onDatagram(syn.data(), syn.size(), 1);
  out.clear();
  h.client.takeReadyDatagrams(out);  // mid-turn: the handshake ACK and the first DAT (the echo) at once
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(rudp_test::flagOf(out[1]), rudp::Flag::Dat);
  const Bytes b = rudp_test::u32(7);
  ASSERT_EQ(h.client.send(2, 4, b.data(), b.size(), true, 1), ErrorCode::None);
  ASSERT_EQ(h.client.send(2, 5, b.data(), b.size(), false, 1), ErrorCode::None);
  out.clear();
  h.client.takeReadyDatagrams(out);  // the reliable one is not held back behind the pack delay
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(rudp_test::flagOf(out[0]), rudp::Flag::Dat);
  EXPECT_EQ(rudp_test::flagOf(out[1]), rudp::Flag::Udp);
}

}  // namespace
}  // namespace diarkis
