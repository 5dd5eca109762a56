// TcpSession's room rules (PROTOCOL section 10, session/room_rules.h) with a fake
// clock: automatic mode waits for the room's migration, bounded by the handoff TTL;
// a server-started migration push is carried out like an answered migrate request;
// the owner's 1/7 holds later sends until it is answered.
#include <gtest/gtest.h>

#include <string>

#include "tcp_harness.h"

namespace diarkis {
namespace {

using test::bytesOf;
using test::kTicket;
using test::migrateAnswerBody;
using test::Request;
using test::textOf;
using Harness = test::TcpHarness;

TcpOptions autoOptions() {
  TcpOptions o = test::migrationOptions();
  o.autoMigrate = true;
  o.heartbeatIntervalMs = 60000;  // no heartbeat in the way of the timers under test
  return o;
}

// The client joins a room: the node's OK answer to 1/2 makes it a member.
void joinRoom(Harness& h) {
  ASSERT_EQ(h.send(1, 2, R"({"roomId":"r"})"), ErrorCode::None);
  ASSERT_EQ(h.flush().size(), 1u);
  h.fromServer(h.server->packet(1, 2, wire::kStatusOk, bytesOf(R"({"roomId":"r","ownerId":"o","members":["o","me"],"props":{}})")));
}

TEST(TcpRoom, AutoModeInARoomWaitsForTheRoomThenMigratesAloneAfterTheTtl) {
  Harness h(autoOptions());
  h.connect();
  joinRoom(h);
  h.now = 100;
  h.fromServer(h.server->offlineNotice());
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  EXPECT_TRUE(h.flush().empty());  // no migrate request: the room moves us
  h.advanceTo(100 + 3000 - 1);
  EXPECT_EQ(h.last(EventType::Error), nullptr);
  h.advanceTo(100 + 3000);
  const Event* e = h.last(EventType::Error);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, ErrorCode::RoomMigrationTimeout);
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  const auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].cmd, wire::kCmdReconn);
}

TEST(TcpRoom, AutoModeAfterLeavingTheRoomMigratesAtOnce) {
  Harness h(autoOptions());
  h.connect();
  joinRoom(h);
  ASSERT_EQ(h.send(1, 3, ""), ErrorCode::None);
  h.flush();
  h.fromServer(h.server->packet(1, 3, wire::kStatusOk, bytesOf(R"({"roomId":"r"})")));
  h.fromServer(h.server->offlineNotice());
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  const auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].cmd, wire::kCmdReconn);
}

TEST(TcpRoom, AServerStartedMigrationPushIsCarriedOutLikeAnAnswer) {
  Harness h;
  h.connect();
  joinRoom(h);
  h.now = 500;
  h.fromServer(h.server->push(0, wire::kCmdReconn, migrateAnswerBody("127.0.0.1:4000")));
  EXPECT_EQ(h.s.state(), ClientState::Migrating);
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Linger);
  ASSERT_EQ(h.send(1, 4, "held"), ErrorCode::None);  // a broadcast during the move: held
  h.expectConnectToTarget();
  h.now = 520;
  const Request claim = h.claim();
  EXPECT_EQ(claim.cmd, wire::kCmdReconn);
  EXPECT_EQ(claim.body, kTicket);
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, {}));
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  const Event* m = h.last(EventType::Migrated);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->rttMs, 20);
  const auto after = h.flush();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(textOf(after[0].body), "held");
  EXPECT_EQ(h.count(EventType::Push), 0u);  // the push itself is not the application's
}

TEST(TcpRoom, AMigrationPushWhileClaimingIsDroppedAndCounted) {
  Harness h;
  h.connect();
  h.fromServer(h.server->push(0, wire::kCmdReconn, migrateAnswerBody("127.0.0.1:4000")));
  h.expectConnectToTarget();
  h.claim();
  h.fromServer(h.server->push(0, wire::kCmdReconn, migrateAnswerBody("127.0.0.1:5000")));
  EXPECT_EQ(h.stats.snapshot().drops[static_cast<size_t>(DropReason::Unexpected)], 1u);
  h.fromServer(h.server->packet(0, wire::kCmdReconn, wire::kStatusOk, {}));
  EXPECT_EQ(h.s.state(), ClientState::Connected);
}

TEST(TcpRoom, TheOwnersMigrateHoldsLaterSendsUntilItIsAnswered) {
  Harness h;
  h.connect();
  joinRoom(h);
  ASSERT_EQ(h.send(1, 7, ""), ErrorCode::None);
  ASSERT_EQ(h.send(1, 4, "after"), ErrorCode::None);
  auto reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);  // "after" is held behind the migrate request
  EXPECT_EQ(reqs[0].cmd, 7);
  // Bad not-owner: the application gets the answer, the held send goes to this node.
  h.fromServer(h.server->packet(1, 7, 4, bytesOf(R"({"error":"not-owner"})")));
  const Event* r = h.last(EventType::Response);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->status, 4);
  EXPECT_EQ(h.s.state(), ClientState::Connected);
  reqs = h.flush();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(textOf(reqs[0].body), "after");
  // Again, and this time the answer carries the target: the owner moves with the room.
  ASSERT_EQ(h.send(1, 7, ""), ErrorCode::None);
  h.flush();
  h.fromServer(h.server->packet(1, 7, wire::kStatusOk, migrateAnswerBody("127.0.0.1:4000")));
  EXPECT_EQ(h.last(EventType::Response)->status, wire::kStatusOk);
  EXPECT_EQ(h.s.takeSocketAction(), TcpSession::SocketAction::Linger);
  h.expectConnectToTarget();
  EXPECT_EQ(h.claim().body, kTicket);
}

}  // namespace
}  // namespace diarkis
