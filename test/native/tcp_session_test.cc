// TcpSession with a fake clock: every timer is driven by explicit times, no
// sockets, no sleeping. The "server" is ServerCodec (test_server.h).
#include "session/tcp_session.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "tcp_harness.h"
#include "test_server.h"

namespace diarkis {
namespace {

using test::Request;

// Default options (the wire defaults), unlike the migration tests' harness.
struct Harness : test::TcpHarness {
  explicit Harness(TcpOptions o = {}) : TcpHarness(o) {}
};

using test::bytesOf;

TEST(TcpSession, ConnectsWhenTheFirstHeartbeatIsAnswered) {
  Harness h;
  h.now = 100;
  h.s.start(h.now);
  EXPECT_EQ(h.s.state(), ClientState::Connecting);
  h.s.onSocketConnected(h.now);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].ver, 0);
  EXPECT_EQ(reqs[0].cmd, wire::kCmdKeepAlive);
  EXPECT_EQ(reqs[0].timestamp, 100);
  EXPECT_EQ(h.count(EventType::Connect), 0u);
  h.now = 130;
  h.fromServer(h.server->heartbeatAnswer(wire::kNodeOnline, reqs[0].timestamp));
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  ASSERT_EQ(h.count(EventType::Connect), 1u);
  EXPECT_FALSE(h.events[0].reconnected);
  ASSERT_NE(h.last(EventType::Heartbeat), nullptr);
  EXPECT_DOUBLE_EQ(h.last(EventType::Heartbeat)->rttMs, 30);
  EXPECT_EQ(h.stats.heartbeatsSent.load(), 1u);
  EXPECT_EQ(h.stats.heartbeatsAnswered.load(), 1u);
}

TEST(TcpSession, HeartbeatCadenceIsExactToTheMillisecond) {
  Harness h;
  h.connect();
  for (int i = 1; i <= 4; ++i) {
    const double due = 5000.0 * i;
    h.advanceTo(due - 1);
    EXPECT_TRUE(h.flush().empty()) << "early heartbeat before " << due;
    h.advanceTo(due);
    auto reqs = h.flush();
    ASSERT_EQ(reqs.size(), 1u) << "at " << due;
    EXPECT_EQ(reqs[0].cmd, wire::kCmdKeepAlive);
    EXPECT_EQ(reqs[0].timestamp, due);
    h.fromServer(h.server->heartbeatAnswer(wire::kNodeOnline, reqs[0].timestamp));
  }
  EXPECT_EQ(h.stats.heartbeatsSent.load(), 5u);
  EXPECT_EQ(h.s.state(), ClientState::Connected);
}

TEST(TcpSession, TimesOutAfterExactlyThreeMissedIntervals) {
  Harness h;
  h.connect();
  h.advanceTo(14999);
  EXPECT_EQ(h.flush().size(), 2u);  // at 5000 and 10000, unanswered
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  h.advanceTo(15000);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
  EXPECT_TRUE(h.s.closed());
}

TEST(TcpSession, MissLimitIsConfigurable) {
  TcpOptions o;
  o.heartbeatIntervalMs = 1000;
  o.heartbeatMissLimit = 5;
  Harness h(o);
  h.connect();
  h.advanceTo(4999);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  h.advanceTo(5000);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
}

TEST(TcpSession, AnAnswerResetsTheMissCounter) {
  Harness h;
  h.connect();
  h.advanceTo(10000);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 2u);
  h.now = 10500;
  h.fromServer(h.server->heartbeatAnswer(wire::kNodeOnline, reqs[1].timestamp));  // late answer
  EXPECT_DOUBLE_EQ(h.last(EventType::Heartbeat)->rttMs, 500);
  h.advanceTo(25499);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  h.advanceTo(25500);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
}

// A host that stalls (a JS thread blocked for 20 s on the host-loop driver) runs
// its timer late, once. Heartbeats it never sent are not misses: it sends one now
// and the server gets an interval to answer it.
TEST(TcpSession, AStalledHostIsNotTimedOutForHeartbeatsItNeverSent) {
  Harness h;
  h.connect();
  h.now = 20000;  // the timer's deadline was 5000
  h.s.onTimer(h.now);
  h.collect();
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);  // the heartbeat sent on resuming
  h.advanceTo(24999);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  h.fromServer(h.server->heartbeatAnswer(wire::kNodeOnline, reqs[0].timestamp));
  h.advanceTo(39998);  // the answer at 24999 holds until 24999 + 3 intervals
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
}

TEST(TcpSession, AStalledHostStillTimesOutWhenTheResumingHeartbeatIsNotAnswered) {
  Harness h;
  h.connect();
  h.now = 20000;
  h.s.onTimer(h.now);
  h.collect();
  h.advanceTo(24999);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  h.advanceTo(25000);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Timeout);
}

TEST(TcpSession, ConnectTimesOutWithoutAnAnswer) {
  Harness h;
  h.s.start(0);
  h.now = 10;
  h.s.onSocketConnected(h.now);
  EXPECT_EQ(h.flush().size(), 1u);
  h.advanceTo(9999);
  EXPECT_TRUE(h.flush().empty()) << "no heartbeat cadence before the first answer";
  EXPECT_EQ(h.s.state(), ClientState::Connecting);
  h.advanceTo(10000);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ConnectTimeout);
  EXPECT_EQ(h.count(EventType::Connect), 0u);
}

TEST(TcpSession, ConnectTimesOutWhenTheSocketNeverConnects) {
  TcpOptions o;
  o.connectTimeoutMs = 250;
  Harness h(o);
  h.s.start(0);
  h.advanceTo(250);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ConnectTimeout);
}

TEST(TcpSession, OfflineIsRaisedOncePerNode) {
  Harness h;
  h.connect();
  h.fromServer(h.server->offlineNotice());
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  EXPECT_EQ(h.count(EventType::Heartbeat), 1u) << "the notice carries no RTT";
  h.advanceTo(5000);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  h.fromServer(h.server->heartbeatAnswer(wire::kNodeOffline, reqs[0].timestamp));
  h.fromServer(h.server->offlineNotice());
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  EXPECT_EQ(h.count(EventType::Heartbeat), 2u);
}

TEST(TcpSession, AnOfflineHeartbeatAnswerRaisesOfflineAndHeartbeat) {
  Harness h;
  h.connect();
  h.advanceTo(5000);
  auto reqs = h.flush();
  h.fromServer(h.server->heartbeatAnswer(wire::kNodeOffline, reqs[0].timestamp));
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  EXPECT_EQ(h.count(EventType::Heartbeat), 2u);
}

struct FinCase {
  const char* reason;
  ErrorCode code;
};
// gtest would otherwise print the struct's raw bytes, padding included.
void PrintTo(const FinCase& c, std::ostream* os) { *os << c.reason; }

class TcpSessionFin : public ::testing::TestWithParam<FinCase> {};

TEST_P(TcpSessionFin, TheCloseAfterAFinReportsItsReason) {
  Harness h;
  h.connect();
  h.fromServer(h.server->fin(GetParam().reason));
  EXPECT_EQ(h.count(EventType::Disconnect), 0u) << "the Fin is remembered, the close reports it";
  h.s.onEof(h.now);
  h.collect();
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, GetParam().code);
}

INSTANTIATE_TEST_SUITE_P(Reasons, TcpSessionFin,
                         ::testing::Values(FinCase{"server-shutdown", ErrorCode::ServerShutdown},
                                           FinCase{"refused", ErrorCode::Refused},
                                           FinCase{"timeout", ErrorCode::Timeout},
                                           FinCase{"kicked", ErrorCode::Kicked},
                                           FinCase{"something-else", ErrorCode::ClosedByServer}),
                         [](const ::testing::TestParamInfo<FinCase>& param) {
                           std::string name = param.param.reason;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

TEST(TcpSession, RefusedDuringConnect) {
  Harness h;
  h.s.start(0);
  h.s.onSocketConnected(0);
  h.flush();
  h.fromServer(h.server->fin("refused"));
  h.s.onSocketError(ErrorCode::NetworkError, "connection reset", h.now);
  h.collect();
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Refused);
  EXPECT_EQ(h.count(EventType::Connect), 0u);
}

TEST(TcpSession, EofWithoutFinIsClosedByServer) {
  Harness h;
  h.connect();
  h.s.onEof(h.now);
  h.collect();
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByServer);
}

TEST(TcpSession, SocketErrorsAreReportedWithTheirCode) {
  Harness h;
  h.s.start(0);
  h.s.onSocketError(ErrorCode::Refused, "connect: Connection refused", 1);
  h.collect();
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::Refused);
  EXPECT_EQ(h.s.nextDeadline(), TcpSession::kNoDeadline);
}

TEST(TcpSession, ABadMacIsDroppedAndCountedAndTheConnectionLives) {
  Harness h;
  h.connect();
  h.fromServer(h.server->tampered(2, 1, wire::kStatusOk, bytesOf("evil")));
  EXPECT_EQ(h.count(EventType::Response), 0u);
  ASSERT_EQ(h.count(EventType::Error), 1u);
  EXPECT_EQ(h.last(EventType::Error)->code, ErrorCode::BadMac);
  EXPECT_EQ(h.stats.drops[static_cast<size_t>(DropReason::BadMac)].load(), 1u);
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  h.fromServer(h.server->packet(2, 1, wire::kStatusOk, bytesOf("good")));
  ASSERT_EQ(h.count(EventType::Response), 1u);
  EXPECT_EQ(h.last(EventType::Response)->payload, bytesOf("good"));
}

TEST(TcpSession, BadMagicIsAProtocolError) {
  Harness h;
  h.connect();
  Bytes p = h.server->packet(2, 1, wire::kStatusOk, bytesOf("x"));
  p[0] = 0x00;
  h.fromServer(p);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ProtocolError);
  EXPECT_NE(h.last(EventType::Disconnect)->message.find("bad-magic"), std::string::npos);
  EXPECT_EQ(h.stats.drops[static_cast<size_t>(DropReason::BadMagic)].load(), 1u);
}

TEST(TcpSession, TooLargeAndBadStatusAreProtocolErrors) {
  TcpOptions o;
  o.maxPayload = 100;  // room for the heartbeat (68 bytes), not for the answer below
  Harness big(o);
  big.connect();
  big.fromServer(big.server->packet(2, 1, wire::kStatusOk, Bytes(200, 7)));
  ASSERT_EQ(big.count(EventType::Disconnect), 1u);
  EXPECT_NE(big.last(EventType::Disconnect)->message.find("too-large"), std::string::npos);

  Harness bad;
  bad.connect();
  bad.fromServer(bad.server->packet(2, 1, 9, bytesOf("x")));
  ASSERT_EQ(bad.count(EventType::Disconnect), 1u);
  EXPECT_EQ(bad.last(EventType::Disconnect)->code, ErrorCode::ProtocolError);
  EXPECT_NE(bad.last(EventType::Disconnect)->message.find("bad-status"), std::string::npos);
}

TEST(TcpSession, ResponsesPushesAndNotificationsAreDispatched) {
  Harness h;
  h.connect();
  Bytes stream = h.server->packet(2, 1, wire::kStatusBad, bytesOf("bad"));
  Bytes push = h.server->push(2, 3, bytesOf("p"));
  Bytes note = h.server->push(0, wire::kCmdNotification, bytesOf("n"));
  stream.insert(stream.end(), push.begin(), push.end());
  stream.insert(stream.end(), note.begin(), note.end());
  for (uint8_t b : stream) h.fromServer(Bytes{b});  // split at every byte
  ASSERT_EQ(h.count(EventType::Response), 1u);
  EXPECT_EQ(h.last(EventType::Response)->status, wire::kStatusBad);
  ASSERT_EQ(h.count(EventType::Push), 2u);
  EXPECT_EQ(h.last(EventType::Push)->cmd, wire::kCmdNotification);
  EXPECT_EQ(h.last(EventType::Push)->payload, bytesOf("n"));
}

TEST(TcpSession, SendsBeforeConnectGoOutAfterTheHeartbeat) {
  Harness h;
  h.s.start(0);
  EXPECT_EQ(h.send(2, 1, "early"), ErrorCode::None);
  EXPECT_GT(h.stats.queuedBytes.load(), 0u);
  h.s.onSocketConnected(1);
  auto first = h.flush();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].cmd, wire::kCmdKeepAlive);
  h.fromServer(h.server->heartbeatAnswer(wire::kNodeOnline, first[0].timestamp));
  auto second = h.flush();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].ver, 2);
  EXPECT_EQ(second[0].body, bytesOf("early"));
  EXPECT_EQ(h.stats.queuedBytes.load(), 0u);
}

TEST(TcpSession, SendRefusesOversizedPayloadsAndClosedSessions) {
  TcpOptions o;
  o.maxPayload = 100;
  Harness h(o);
  EXPECT_EQ(h.send(2, 1, "idle"), ErrorCode::NotConnected);
  h.connect();
  EXPECT_EQ(h.send(2, 1, std::string(200, 'x')), ErrorCode::PayloadTooLarge);
  h.s.close(false, h.now);
  EXPECT_EQ(h.send(2, 1, "late"), ErrorCode::NotConnected);
}

TEST(TcpSession, BackpressureWritableDrainAndQueueFull) {
  TcpOptions o;
  o.highWaterMark = 1000;
  o.maxQueuedBytes = 3000;
  Harness h(o);
  h.connect();
  const std::string body(100, 'b');
  bool writable = true;
  int accepted = 0;
  while (writable) {
    const uint64_t before = h.stats.queuedBytes.load();
    ASSERT_LT(before, 1000u);
    ASSERT_EQ(h.send(2, 1, body, &writable), ErrorCode::None);
    ++accepted;
  }
  EXPECT_GE(h.stats.queuedBytes.load(), 1000u);
  ErrorCode rc = ErrorCode::None;
  while (rc == ErrorCode::None) rc = h.send(2, 1, body, &writable);
  EXPECT_EQ(rc, ErrorCode::QueueFull);
  EXPECT_FALSE(writable);
  const uint64_t full = h.stats.queuedBytes.load();
  EXPECT_LE(full, 3000u);
  const size_t output = h.s.outputSize();
  EXPECT_EQ(h.send(2, 1, body), ErrorCode::QueueFull);
  EXPECT_EQ(h.stats.queuedBytes.load(), full) << "a refused send queues nothing";
  EXPECT_EQ(h.s.outputSize(), output) << "nor leaves bytes in the output (encoded there in place)";
  EXPECT_EQ(h.count(EventType::Drain), 0u);

  // The socket takes bytes in small pieces: Drain once the queue is below the mark.
  while (h.stats.queuedBytes.load() >= 1000u) {
    ASSERT_EQ(h.count(EventType::Drain), 0u);
    h.s.consumeOutput(64, h.now);
    h.collect();
  }
  EXPECT_EQ(h.count(EventType::Drain), 1u);
  h.s.consumeOutput(h.s.outputSize(), h.now);
  h.collect();
  EXPECT_EQ(h.count(EventType::Drain), 1u) << "one Drain per refusal";
  EXPECT_EQ(h.stats.queuedBytes.load(), 0u);
}

TEST(TcpSession, HeartbeatBytesAreNotCountedAsQueuedSends) {
  Harness h;
  h.connect();
  h.advanceTo(5000);
  EXPECT_GT(h.s.outputSize(), 0u);
  EXPECT_EQ(h.stats.queuedBytes.load(), 0u);
  ASSERT_EQ(h.send(2, 1, "x"), ErrorCode::None);
  const uint64_t q = h.stats.queuedBytes.load();
  EXPECT_LT(q, h.s.outputSize());
  h.s.consumeOutput(h.s.outputSize(), h.now);
  EXPECT_EQ(h.stats.queuedBytes.load(), 0u);
}

TEST(TcpSession, GracefulCloseFlushesThenCloses) {
  Harness h;
  h.connect();
  ASSERT_EQ(h.send(2, 1, "one"), ErrorCode::None);
  ASSERT_EQ(h.send(2, 1, "two"), ErrorCode::None);
  h.s.close(true, h.now);
  h.collect();
  EXPECT_EQ(h.s.state(), ClientState::Closing);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[1].body, bytesOf("two"));
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByUser);
  EXPECT_TRUE(h.s.closed());
}

TEST(TcpSession, GracefulCloseIsBoundedByTheCloseTimeout) {
  TcpOptions o;
  o.closeTimeoutMs = 2000;
  Harness h(o);
  h.connect();
  h.now = 100;
  ASSERT_EQ(h.send(2, 1, "stuck"), ErrorCode::None);
  h.s.close(true, h.now);
  h.advanceTo(2099);
  EXPECT_EQ(h.s.state(), ClientState::Closing);
  h.advanceTo(2100);
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByUser);
  EXPECT_NE(h.last(EventType::Disconnect)->message.find("timed out"), std::string::npos);
  EXPECT_EQ(h.stats.queuedBytes.load(), 0u);
}

TEST(TcpSession, AbortClosesAtOnceAndDropsTheQueue) {
  Harness h;
  h.connect();
  ASSERT_EQ(h.send(2, 1, "dropped"), ErrorCode::None);
  h.s.close(false, h.now);
  h.collect();
  ASSERT_EQ(h.count(EventType::Disconnect), 1u);
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByUser);
  EXPECT_EQ(h.s.outputSize(), 0u);
  EXPECT_EQ(h.stats.queuedBytes.load(), 0u);
  h.s.onEof(h.now);
  h.collect();
  EXPECT_EQ(h.count(EventType::Disconnect), 1u) << "one Disconnect only";
}

TEST(TcpSession, UnencryptedSessionsWork) {
  TcpOptions o;
  Stats stats;
  SendBudget budget(stats, o.highWaterMark, o.maxQueuedBytes);
  TcpSession s(o, test::testKeys(false), stats, budget);
  test::ServerCodec server(test::testKeys(false));
  s.start(0);
  s.onSocketConnected(0);
  auto reqs = server.feed(s.output(), s.outputSize());
  s.consumeOutput(s.outputSize(), 0);
  ASSERT_EQ(reqs.size(), 1u);
  Bytes ans = server.heartbeatAnswer(wire::kNodeOnline, reqs[0].timestamp);
  s.onData(ans.data(), ans.size(), 1);
  EXPECT_EQ(s.state(), ClientState::Connected);
}

}  // namespace
}  // namespace diarkis
