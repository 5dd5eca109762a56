// TcpSession migration (PROTOCOL section 7) with a fake clock: an in-test old
// node and target (ServerCodec each, one per connection), no sockets, no sleeping.
// The same over loopback sockets: tcp_migration_loopback_test.cc.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "session/tcp_session.h"
#include "tcp_harness.h"
#include "test_server.h"

namespace diarkis {
namespace {

using test::Request;
using test::TcpHarness;
using test::bytesOf;
using test::textOf;
using test::kTicket;
using test::migrateAnswerBody;
using test::migrationOptions;
using Harness = TcpHarness;

TEST(TcpMigration, WholeFlowMovesTheSessionAndKeepsEveryRequestInOrder) {
  Harness h;
  h.connect();
  ASSERT_EQ(h.send(2, 1, "before"), ErrorCode::None);
  h.fromServer(h.server->offlineNotice());
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  h.now = 1000;
  ASSERT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  ASSERT_EQ(h.send(2, 1, "held-1"), ErrorCode::None);
  ASSERT_EQ(h.send(2, 4, "held-2"), ErrorCode::None);
  auto first = h.flush();  // "before" then the migrate request; the held ones stay local
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(textOf(first[0].body), "before");
  EXPECT_EQ(first[1].cmd, wire::kCmdReconn);
  const Bytes pushBefore = h.server->push(2, 6, bytesOf("p1"));
  const Bytes pushAfter = h.server->push(2, 6, bytesOf("late"));
  const Bytes late = h.server->packet(2, 1, wire::kStatusOk, bytesOf("late"));
  h.fromServer(pushBefore);
  Bytes rest = h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, migrateAnswerBody("127.0.0.1:4000"));
  rest.insert(rest.end(), pushAfter.begin(), pushAfter.end());
  rest.insert(rest.end(), late.begin(), late.end());
  h.now = 1010;
  h.fromServer(rest);
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Linger);
  h.expectConnectToTarget();
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  h.now = 1020;
  const Request claim = h.claim();
  EXPECT_EQ(claim.ver, 0);
  EXPECT_EQ(claim.cmd, wire::kCmdReconn);
  EXPECT_EQ(claim.body, kTicket);
  h.now = 1030;
  Bytes answer = h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, {});
  const Bytes held = h.server->push(2, 6, bytesOf("p2"));
  answer.insert(answer.end(), held.begin(), held.end());
  h.fromServer(answer);
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  // Events: push p1, connect(true), migrated, push p2 -- nothing after the answer on the old stream.
  std::vector<std::string> seq;
  for (const Event& e : h.events) {
    if (e.type == EventType::Push) seq.push_back("push:" + textOf(e.payload));
    if (e.type == EventType::Connect) seq.push_back(e.reconnected ? "reconnect" : "connect");
    if (e.type == EventType::Migrated) seq.push_back("migrated");
    if (e.type == EventType::Response) seq.push_back("response");
  }
  EXPECT_EQ(seq, (std::vector<std::string>{"connect", "push:p1", "reconnect", "migrated", "push:p2"}));
  const Event* m = h.last(EventType::Migrated);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->from, "10.0.0.1:1000");
  EXPECT_EQ(m->address, "127.0.0.1:4000");
  EXPECT_DOUBLE_EQ(m->rttMs, 30);
  // The held requests follow the claim, in order.
  auto after = h.flush();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(textOf(after[0].body), "held-1");
  EXPECT_EQ(after[1].cmd, 4);
  EXPECT_EQ(h.budget.queued(), 0u);
  EXPECT_EQ(h.stats.migrations.load(), 1u);
  // Heartbeats resume on the target, and its offline notice is raised again (once per node).
  h.advanceTo(1030 + h.opts.heartbeatIntervalMs);
  auto hb = h.flush();
  ASSERT_EQ(hb.size(), 1u);
  EXPECT_EQ(hb[0].cmd, wire::kCmdKeepAlive);
  h.fromServer(h.server->offlineNotice());
  EXPECT_EQ(h.count(EventType::Offline), 2u);
}

TEST(TcpMigration, SendMigrateIsIdempotentWhileRunning) {
  Harness h;
  h.connect();
  EXPECT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  EXPECT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].cmd, wire::kCmdReconn);
  EXPECT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  EXPECT_TRUE(h.flush().empty());
}

TEST(TcpMigration, SendMigrateNeedsALiveSession) {
  Harness h;
  EXPECT_EQ(h.s.sendMigrate(0), ErrorCode::NotConnected);
  h.s.start(0);
  EXPECT_EQ(h.s.sendMigrate(0), ErrorCode::NotConnected);  // not answered yet
}

TEST(TcpMigration, NoTargetSendsTheHeldQueueToTheOldNodeAndKeepsTheSession) {
  Harness h;
  h.connect();
  ASSERT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  ASSERT_EQ(h.send(2, 1, "held"), ErrorCode::None);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusErr, Bytes{0x03, 0xEB}));
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  const Event* e = h.last(EventType::Error);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, ErrorCode::NoTarget);
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::None);
  auto after = h.flush();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(textOf(after[0].body), "held");
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  // Manual mode: no second attempt on its own.
  h.advanceTo(60000);
  for (const Request& r : h.flush()) EXPECT_NE(r.cmd, wire::kCmdReconn);
}

TEST(TcpMigration, RefusedClaimRetriesWithBackoffThenFailsAndHandsTheQueueBack) {
  Harness h;
  h.connect();
  ASSERT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  ASSERT_EQ(h.send(2, 1, "one"), ErrorCode::None);
  ASSERT_EQ(h.send(3, 7, "two"), ErrorCode::None);
  h.answerMigrate();
  const double answeredAt = h.now;
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Linger);
  h.expectConnectToTarget();
  h.claim();
  h.fromServer(h.server->fin("refused"));  // the target refuses the claim
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Close);
  std::string host;
  uint16_t port = 0;
  EXPECT_FALSE(h.s.takeConnect(host, port)) << "a retry waits for its backoff";
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  int attempts = 1;
  double lastRetry = h.now;
  std::vector<double> gaps;
  while (!h.s.closed()) {
    const double due = h.s.nextDeadline();
    ASSERT_LT(due, answeredAt + h.opts.handoffTtlMs + 1);
    h.advanceTo(due);
    if (h.s.closed()) break;
    if (h.s.takeConnect(host, port)) {
      ++attempts;
      gaps.push_back(h.now - lastRetry);
      lastRetry = h.now;
      h.s.onSocketError(ErrorCode::Refused, "connect: Connection refused", h.now);  // the target is gone
      h.collect();
      EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Close);
    }
  }
  EXPECT_GE(attempts, 4);
  for (double g : gaps) {
    EXPECT_GE(g, h.opts.migrateRetryMinMs / 2);
    EXPECT_LE(g, h.opts.migrateRetryMaxMs);
  }
  const Event* d = h.last(EventType::Disconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->code, ErrorCode::MigrationFailed);
  EXPECT_NE(d->message.find("127.0.0.1:4000"), std::string::npos) << d->message;
  const std::vector<UnsentPacket> unsent = h.s.takeUnsent();
  ASSERT_EQ(unsent.size(), 2u);
  EXPECT_EQ(unsent[0].ver, 2);
  EXPECT_EQ(unsent[0].cmd, 1);
  EXPECT_EQ(textOf(unsent[0].body), "one");
  EXPECT_EQ(unsent[1].ver, 3);
  EXPECT_EQ(unsent[1].cmd, 7);
  EXPECT_EQ(textOf(unsent[1].body), "two");
  EXPECT_EQ(h.budget.queued(), 0u);
}

TEST(TcpMigration, ClaimUnansweredInTimeIsRetriedAndCanStillSucceed) {
  TcpOptions o = migrationOptions();
  o.connectTimeoutMs = 500;
  Harness h(o);
  h.connect();
  ASSERT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  h.answerMigrate();
  h.s.takeSocketAction();
  h.expectConnectToTarget();
  h.claim();
  h.advanceTo(h.now + 500);  // no answer: the attempt fails
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Close);
  h.advanceTo(h.s.nextDeadline());
  h.expectConnectToTarget();
  const Request claim = h.claim();
  EXPECT_EQ(claim.body, kTicket);
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, {}));
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  EXPECT_EQ(h.count(EventType::Migrated), 1u);
}

TEST(TcpMigration, HeldQueueIsBoundedInBytesAndKeepsWhatItAccepted) {
  TcpOptions o = migrationOptions();
  o.maxQueuedBytes = 1000;
  o.highWaterMark = 500;
  Harness h(o);
  h.connect();
  ASSERT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  const std::string body(100, 'x');
  int accepted = 0;
  ErrorCode rc = ErrorCode::None;
  for (int i = 0; i < 50 && rc == ErrorCode::None; ++i) {
    rc = h.send(2, 1, body);
    if (rc == ErrorCode::None) ++accepted;
  }
  EXPECT_EQ(rc, ErrorCode::QueueFull);
  EXPECT_GT(accepted, 0);
  h.answerMigrate();
  h.s.takeSocketAction();
  h.expectConnectToTarget();
  h.claim();
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, {}));
  auto after = h.flush();
  EXPECT_EQ(static_cast<int>(after.size()), accepted);
  EXPECT_EQ(h.budget.queued(), 0u);
  EXPECT_EQ(h.count(EventType::Drain), 1u);
}

TEST(TcpMigration, AutoModeMigratesOnTheOfflineNoticeAndRetriesAfterNoTarget) {
  TcpOptions o = migrationOptions();
  o.autoMigrate = true;
  Harness h(o);
  h.connect();
  h.fromServer(h.server->offlineNotice());
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].cmd, wire::kCmdReconn);
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusErr, Bytes{0x03, 0xEB}));
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  EXPECT_EQ(h.count(EventType::Error), 1u);
  const double retry = h.s.nextDeadline();
  EXPECT_LE(retry, h.now + o.migrateRetryMinMs);
  h.advanceTo(retry);
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  h.answerMigrate();
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Linger);
  h.expectConnectToTarget();
}

TEST(TcpMigration, MalformedAnswerFailsTheMigrationWithTheQueueHandedBack) {
  Harness h;
  h.connect();
  ASSERT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  ASSERT_EQ(h.send(2, 1, "x"), ErrorCode::None);
  h.flush();
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, migrateAnswerBody("no-port")));
  const Event* d = h.last(EventType::Disconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->code, ErrorCode::MigrationFailed);
  EXPECT_EQ(h.s.takeUnsent().size(), 1u);
}

TEST(TcpMigration, Ipv6TargetAddressIsUnbracketed) {
  Harness h;
  h.connect();
  ASSERT_EQ(h.s.sendMigrate(h.now), ErrorCode::None);
  h.flush();
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, migrateAnswerBody("[::1]:4001")));
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(h.s.takeConnect(host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 4001);
}

}  // namespace
}  // namespace diarkis
