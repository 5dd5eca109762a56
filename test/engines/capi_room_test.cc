// The C ABI's room layer over loopback against a fake node, for what the cluster
// does not stage on demand: answers and pushes become DK_EV_ROOM_* (never
// RESPONSE/PUSH on ver 1), a refused props set is reported, and in automatic mode
// the owner's client sends the room's migrate on the offline notice by itself,
// whose refusal is not reported while the application's own refusal is.
#include <atomic>
#include <string>
#include <vector>

#include "capi_fixture.h"

namespace {

using capi_test::pollUntil;
using capi_test::Seen;
using namespace diarkis::test;
using diarkis::wire::kStatusBad;
using diarkis::wire::kStatusOk;

const Seen* find(const std::vector<Seen>& seen, int type) {
  for (const Seen& s : seen) {
    if (s.type == type) return &s;
  }
  return nullptr;
}

class CapiRoom : public capi_test::CapiTest {};

TEST_F(CapiRoom, AnswersAndPushesBecomeRoomEventsAndTheAutomaticOwnerMoveIsSilent) {
  std::atomic<int> migrates{0};
  FakeNode node([&](diarkis::SocketHandle fd) {
    serveRequests(fd, [&](ServerCodec& c, const Request& r) {
      if (r.ver == 0 && r.cmd == diarkis::wire::kCmdKeepAlive) {
        writeAll(fd, c.heartbeatAnswer(diarkis::wire::kNodeOnline, r.timestamp));
      } else if (r.ver == 1 && r.cmd == 1) {  // create: the answer, bob joins and says hi
        writeAll(fd, c.packet(1, 1, kStatusOk, bytesOf(R"({"roomId":"r1","ownerId":"me"})")));
        writeAll(fd, c.push(1, 2, bytesOf(R"({"roomId":"r1","uid":"bob"})")));
        writeAll(fd, c.push(1, 4, bytesOf(std::string("\x03") + "bob" + "hi")));
      } else if (r.ver == 1 && r.cmd == 6) {
        writeAll(fd, c.packet(1, 6, kStatusBad, bytesOf(R"({"error":"migrating"})")));
      } else if (r.ver == 2 && r.cmd == 1) {  // the echo, then the node goes offline
        writeAll(fd, c.packet(2, 1, kStatusOk, r.body));
        writeAll(fd, c.offlineNotice());
      } else if (r.ver == 1 && r.cmd == 7) {  // the room lives elsewhere; bob owns it after the first
        const int n = ++migrates;  // counted before the answer is seen
        writeAll(fd, c.packet(1, 7, kStatusBad, bytesOf(R"({"error":"not-offline"})")));
        if (n == 1) writeAll(fd, c.push(1, 8, bytesOf(R"({"roomId":"r1","ownerId":"bob"})")));
      }
      return true;
    });
  });
  dk_options o{};
  o.struct_size = sizeof o;  // automatic migration (the default)
  o.handoff_ttl_ms = 30000;  // the room wait outlasts the test
  const int id = connected(node, o);
  // Destroyed before the node, whose thread reads until this client's socket closes.
  struct Drop {
    dk_context* ctx;
    int id;
    ~Drop() { dk_destroy(ctx, id); }
  } drop{ctx, id};

  ASSERT_EQ(dk_room_create(ctx, id, 4, nullptr), 0);
  std::vector<Seen> seen = pollUntil(ctx, DK_EV_ROOM_MESSAGE);
  const Seen* created = find(seen, DK_EV_ROOM_CREATED);
  ASSERT_NE(created, nullptr);
  EXPECT_EQ(created->code, 0);
  EXPECT_EQ(created->text, "r1");
  EXPECT_EQ(created->text2, "me");
  EXPECT_EQ(created->status, 1);  // the owner
  ASSERT_NE(find(seen, DK_EV_ROOM_MEMBER_JOIN), nullptr);
  EXPECT_EQ(find(seen, DK_EV_ROOM_MEMBER_JOIN)->text, "bob");
  EXPECT_EQ(seen.back().text, "bob");
  EXPECT_EQ(seen.back().payload, "hi");

  ASSERT_EQ(dk_room_set_props(ctx, id, R"({"round":2})"), 0);
  seen = pollUntil(ctx, DK_EV_ROOM_PROPS);
  EXPECT_EQ(seen.back().status, 1);
  EXPECT_EQ(seen.back().code, DK_ERR_ROOM_BUSY);
  EXPECT_TRUE(seen.back().payload.empty());

  // The offline notice: the owner's client sends 1/7 itself; its refusal is silent.
  ASSERT_EQ(dk_rsend(ctx, id, 2, 1, reinterpret_cast<const uint8_t*>("x"), 1), 0);
  seen = pollUntil(ctx, DK_EV_ROOM_OWNER_CHANGE);
  EXPECT_NE(find(seen, DK_EV_OFFLINE), nullptr);
  EXPECT_EQ(find(seen, DK_EV_ROOM_MIGRATED), nullptr);
  EXPECT_EQ(seen.back().text, "bob");
  EXPECT_EQ(seen.back().status, 0);  // no longer the owner
  EXPECT_EQ(migrates.load(), 1);
  for (const Seen& s : seen) EXPECT_FALSE((s.type == DK_EV_RESPONSE || s.type == DK_EV_PUSH) && s.ver == 1);

  // The application's own migrate: its refusal is reported.
  ASSERT_EQ(dk_room_migrate(ctx, id), 0);
  seen = pollUntil(ctx, DK_EV_ROOM_MIGRATED);
  EXPECT_EQ(seen.back().code, DK_ERR_ROOM_BUSY);
  EXPECT_TRUE(seen.back().text.empty());
  EXPECT_EQ(migrates.load(), 2);
}

}  // namespace
