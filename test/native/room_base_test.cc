// DiarkisRoomBase (diarkis/room.h): the requests it sends, the answers and pushes it
// decodes into callbacks, and malformed server packets counted, never thrown.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "diarkis/room.h"

namespace diarkis {
namespace {

struct Sent {
  uint8_t ver;
  uint16_t cmd;
  std::string body;
  bool reliable;
};

class TestRoom : public DiarkisRoomBase {
 public:
  TestRoom()
      : DiarkisRoomBase([this](uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable) {
          sent.push_back(Sent{ver, cmd, std::string(reinterpret_cast<const char*>(body), len), reliable});
          return ErrorCode::None;
        }) {}
  std::vector<Sent> sent;
  std::vector<std::string> log;
  std::string lastJson;

  bool answer(uint16_t cmd, uint8_t status, const std::string& body) {
    return HandleResponse(1, cmd, status, reinterpret_cast<const uint8_t*>(body.data()), body.size());
  }
  bool push(uint16_t cmd, const std::string& body) {
    return HandlePush(1, cmd, reinterpret_cast<const uint8_t*>(body.data()), body.size());
  }

 protected:
  void OnRoomCreate(bool ok, const std::string& id, const std::string& e) override { log.push_back("create " + std::to_string(ok) + " " + id + e); }
  void OnRoomJoin(bool ok, const RoomState& st, const std::string& e) override {
    lastJson = st.json;
    std::string m;
    for (const auto& u : st.members) m += u + ",";
    log.push_back("join " + std::to_string(ok) + " " + st.roomId + " " + st.ownerId + " " + m + " " + st.propsJson + e);
  }
  void OnRoomLeave(bool ok, const std::string& e) override { log.push_back("leave " + std::to_string(ok) + " " + e); }
  void OnRoomProps(const std::string& p) override { log.push_back("props " + p); }
  void OnRoomPropsFailed(const std::string& e) override { log.push_back("propsFailed " + e); }
  void OnMemberJoin(const std::string& u) override { log.push_back("memberJoin " + u); }
  void OnMemberLeave(const std::string& u) override { log.push_back("memberLeave " + u); }
  void OnMemberBroadcast(const std::string& u, const uint8_t* d, size_t n) override {
    log.push_back("message " + u + " " + std::string(reinterpret_cast<const char*>(d), n));
  }
  void OnOwnerChange(const std::string& o) override { log.push_back("owner " + o); }
  void OnMigrate(bool ok, const std::string& id, const std::string& e) override { log.push_back("migrate " + std::to_string(ok) + " " + id + e); }
};

TEST(RoomBase, RequestsCarryTheJsonBodiesOfProtocolSection10) {
  TestRoom r;
  EXPECT_EQ(r.SendCreateRoom(8, R"({"map":"dunes"})"), ErrorCode::None);
  EXPECT_EQ(r.SendJoinRoom("abc"), ErrorCode::None);
  EXPECT_EQ(r.SendSetRoomProps(R"({"round":2})"), ErrorCode::None);
  EXPECT_EQ(r.SendLeaveRoom(), ErrorCode::None);
  EXPECT_EQ(r.Migrate(), ErrorCode::None);
  ASSERT_EQ(r.sent.size(), 5u);
  EXPECT_EQ(r.sent[0].cmd, 1);
  EXPECT_EQ(r.sent[0].body, R"({"maxMembers":8,"props":{"map":"dunes"}})");
  EXPECT_EQ(r.sent[1].body, R"({"roomId":"abc"})");
  EXPECT_EQ(r.sent[2].cmd, 6);
  EXPECT_EQ(r.sent[2].body, R"({"props":{"round":2}})");
  EXPECT_EQ(r.sent[3].cmd, 3);
  EXPECT_EQ(r.sent[4].cmd, 7);
  for (const auto& s : r.sent) EXPECT_EQ(s.ver, 1);
}

TEST(RoomBase, BadArgumentsAreRefusedWithoutSending) {
  TestRoom r;
  EXPECT_EQ(r.SendCreateRoom(0), ErrorCode::InvalidArgument);
  EXPECT_EQ(r.SendCreateRoom(4, "[1,2]"), ErrorCode::InvalidArgument);
  EXPECT_EQ(r.SendCreateRoom(4, "{not json"), ErrorCode::InvalidArgument);
  EXPECT_EQ(r.SendSetRoomProps("3"), ErrorCode::InvalidArgument);
  EXPECT_EQ(r.SendJoinRoom(""), ErrorCode::InvalidArgument);
  EXPECT_EQ(r.SendBroadcast(nullptr, 0), ErrorCode::NotConnected);  // not in a room
  EXPECT_TRUE(r.sent.empty());
}

TEST(RoomBase, AnswersAndPushesBecomeCallbacksAndState) {
  TestRoom r;
  EXPECT_TRUE(r.answer(2, 1, R"({"roomId":"r1","ownerId":"alice","members":["alice","bob"],"props":{"map":"dunes"}})"));
  EXPECT_EQ(r.RoomId(), "r1");
  EXPECT_EQ(r.Uid(), "bob");
  EXPECT_EQ(r.lastJson, R"({"members":["alice","bob"],"ownerId":"alice","props":{"map":"dunes"},"roomId":"r1"})");
  EXPECT_FALSE(r.IsOwner());
  EXPECT_TRUE(r.push(2, R"({"roomId":"r1","uid":"dave"})"));
  const std::string bc = std::string(1, '\x05') + "alice" + "hello";
  EXPECT_TRUE(r.push(4, bc));
  EXPECT_TRUE(r.push(6, R"({"roomId":"r1","props":{"map":"dunes","round":2}})"));
  EXPECT_TRUE(r.push(7, R"({"oldRoomId":"r1","newRoomId":"r2","ownerId":"alice"})"));
  EXPECT_EQ(r.RoomId(), "r2");
  EXPECT_TRUE(r.push(3, R"({"roomId":"r2","uid":"alice"})"));
  EXPECT_TRUE(r.push(8, R"({"roomId":"r2","ownerId":"bob"})"));
  EXPECT_TRUE(r.IsOwner());
  EXPECT_TRUE(r.answer(7, 4, R"({"error":"not-owner"})"));
  EXPECT_FALSE(r.HandlePush(2, 4, nullptr, 0));  // not a room packet: not consumed
  const std::vector<std::string> want = {
      "join 1 r1 alice alice,bob, {\"map\":\"dunes\"}", "memberJoin dave", "message alice hello",
      "props {\"map\":\"dunes\",\"round\":2}",           "migrate 1 r2",     "memberLeave alice",
      "owner bob",                                       "migrate 0 not-owner"};
  EXPECT_EQ(r.log, want);
  EXPECT_EQ(r.BadPackets(), 0u);
}

TEST(RoomBase, RefusalsCarryTheNodesCode) {
  TestRoom r;
  r.answer(2, 4, R"({"error":"room-full"})");
  r.answer(1, 5, "");
  EXPECT_EQ(r.log, (std::vector<std::string>{"join 0    room-full", "create 0 status-5"}));
}

TEST(RoomBase, RefusedPropsAreReportedAndNodeCodesMapToErrorCodes) {
  TestRoom r;
  r.answer(6, 4, R"({"error":"not-in-room"})");
  EXPECT_EQ(r.log, (std::vector<std::string>{"propsFailed not-in-room"}));
  EXPECT_EQ(DiarkisRoomBase::ErrorCodeOf("not-found"), ErrorCode::RoomNotFound);
  EXPECT_EQ(DiarkisRoomBase::ErrorCodeOf("not-offline"), ErrorCode::RoomBusy);
  EXPECT_EQ(DiarkisRoomBase::ErrorCodeOf("bad-request"), ErrorCode::InvalidArgument);
  EXPECT_EQ(DiarkisRoomBase::ErrorCodeOf("status-5"), ErrorCode::ProtocolError);
}

TEST(RoomBase, AutoModeOwnerMovesItsRoomOnOfflineAndARefusalIsNotReported) {
  TestRoom r;
  r.HandleOffline(true);  // not in a room: nothing
  EXPECT_TRUE(r.sent.empty());
  r.answer(1, 1, R"({"roomId":"r1","ownerId":"alice"})");
  r.HandleOffline(false);  // manual mode: the application decides
  EXPECT_TRUE(r.sent.empty());
  r.HandleOffline(true);
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].cmd, 7);
  ASSERT_EQ(r.Migrate(), ErrorCode::None);                // the application's own, after it
  EXPECT_TRUE(r.answer(7, 4, R"({"error":"not-offline"})"));  // the automatic one's: silent
  EXPECT_TRUE(r.answer(7, 4, R"({"error":"not-owner"})"));    // the application's: reported
  EXPECT_EQ(r.log, (std::vector<std::string>{"create 1 r1", "migrate 0 not-owner"}));
}

TEST(RoomBase, RoomMigrationTimeoutLeavesTheRoomOnceAndConsumesTheLeaveAnswer) {
  TestRoom r;
  EXPECT_FALSE(r.HandleError(ErrorCode::BadMac));
  EXPECT_TRUE(r.answer(2, 1, R"({"roomId":"r1","ownerId":"alice","members":["alice","bob"],"props":{}})"));
  EXPECT_TRUE(r.HandleError(ErrorCode::RoomMigrationTimeout));
  EXPECT_TRUE(r.RoomId().empty());
  ASSERT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.sent[0].cmd, 3);
  EXPECT_TRUE(r.answer(3, 4, R"({"error":"not-in-room"})"));  // the leave's answer: consumed
  EXPECT_TRUE(r.HandleError(ErrorCode::RoomMigrationTimeout));  // outside a room: nothing more
  EXPECT_EQ(r.sent.size(), 1u);
  EXPECT_EQ(r.log, (std::vector<std::string>{"join 1 r1 alice alice,bob, {}", "leave 1 room-migration-timeout"}));
}

TEST(RoomBase, MalformedPacketsAreCountedNotThrown) {
  TestRoom r;
  r.push(4, "");
  r.push(4, std::string(1, '\x09') + "ab");
  r.push(2, "{not json");
  r.push(8, "[]");
  r.push(99, "{}");
  r.answer(1, 1, "nope");
  r.answer(5, 1, R"({"members":3})");
  EXPECT_EQ(r.BadPackets(), 7u);
  EXPECT_TRUE(r.RoomId().empty());
}

}  // namespace
}  // namespace diarkis
