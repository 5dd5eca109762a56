// The C ABI over loopback against fake nodes (test/native/fake_node.h), for what
// the cluster cannot stage on demand: a migration whose target never answers
// ends in DK_EV_MIGRATION_FAILED(MIGRATION_FAILED), the held send handed back as
// DK_EV_UNSENT, then DK_EV_DISCONNECT; and a close during a migration hands the
// held sends back too. Part of the native test binary (cmake/engines.cmake).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "capi_fixture.h"

namespace {

using capi_test::pollUntil;
using capi_test::Seen;
using diarkis::test::FakeNode;

class CapiMigration : public capi_test::CapiTest {
 protected:
  // A manual-migration client connected to node, migrating, with one held send.
  int migratingWithHeldSend(const FakeNode& node, uint32_t handoffTtlMs) {
    dk_options o{};
    o.struct_size = sizeof o;
    o.migration = DK_MIGRATION_MANUAL;
    o.handoff_ttl_ms = handoffTtlMs;
    const int id = connected(node, o);
    EXPECT_EQ(dk_send_migrate(ctx, id), 0);
    EXPECT_EQ(dk_rsend(ctx, id, 2, 9, reinterpret_cast<const uint8_t*>("kept"), 4), 0);
    return id;
  }
};

TEST_F(CapiMigration, AnUnreachableTargetEndsInMigrationFailedWithTheHeldSendHandedBack) {
  const uint16_t nobody = diarkis::test::closedPort();
  FakeNode old(diarkis::test::oldNode([nobody] { return "127.0.0.1:" + std::to_string(nobody); }));
  const int id = migratingWithHeldSend(old, 300);
  const std::vector<Seen> seen = pollUntil(ctx, DK_EV_DISCONNECT);
  ASSERT_GE(seen.size(), 3u);
  const Seen& failed = seen[seen.size() - 3];
  const Seen& unsent = seen[seen.size() - 2];
  EXPECT_EQ(failed.type, DK_EV_MIGRATION_FAILED);
  EXPECT_EQ(failed.code, DK_ERR_MIGRATION_FAILED);
  EXPECT_EQ(unsent.type, DK_EV_UNSENT);
  EXPECT_EQ(unsent.cmd, 9);
  EXPECT_EQ(unsent.payload, "kept");
  EXPECT_EQ(seen.back().code, DK_ERR_MIGRATION_FAILED);
  EXPECT_EQ(dk_state(ctx, id), DK_STATE_CLOSED);
}

TEST_F(CapiMigration, ACloseDuringAMigrationHandsTheHeldSendBack) {
  // The old node never answers the migrate request: the migration is still running at the close.
  FakeNode old([](diarkis::SocketHandle fd) {
    diarkis::test::serveRequests(fd, [&](diarkis::test::ServerCodec& c, const diarkis::test::Request& r) {
      if (r.ver == 0 && r.cmd == diarkis::wire::kCmdKeepAlive) {
        diarkis::test::writeAll(fd, c.heartbeatAnswer(diarkis::wire::kNodeOnline, r.timestamp));
      }
      return true;
    });
  });
  const int id = migratingWithHeldSend(old, 30000);
  EXPECT_EQ(dk_close(ctx, id), 0);
  const std::vector<Seen> seen = pollUntil(ctx, DK_EV_DISCONNECT);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen[seen.size() - 2].type, DK_EV_UNSENT);
  EXPECT_EQ(seen[seen.size() - 2].payload, "kept");
  EXPECT_EQ(seen.back().code, DK_ERR_CLOSED_BY_USER);
  EXPECT_EQ(dk_destroy(ctx, id), 0);
}

}  // namespace
