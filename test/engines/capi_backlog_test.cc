// The C ABI's context is bounded when nobody polls it (issue 11, a #15 leftover):
// a node pushes 8 MiB while the caller does not call dk_poll; the client pauses
// reading at receive_high_water_mark (the node's writes block in its kernel
// buffer), and once the caller polls, every push arrives, in order.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "diarkis.h"
#include "capi_endpoint.h"

namespace {

using diarkis::Bytes;
using diarkis::test::FakeNode;

constexpr uint32_t kPushes = 8192;
constexpr size_t kSize = 1024;
constexpr uint32_t kMark = 256 << 10;

// Polls a counter until cond (there is no event while nobody polls); 20 s bound.
template <class Cond>
bool eventually(Cond cond) {
  for (int i = 0; i < 2000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

TEST(CapiBacklog, AnUnpolledContextPausesAtTheMarkAndLosesNothing) {
  std::atomic<uint32_t> written{0};
  FakeNode node([&](diarkis::SocketHandle fd) {
    diarkis::test::serveRequests(fd, [&](diarkis::test::ServerCodec& c, const diarkis::test::Request& r) {
      if (r.ver == 0 && r.cmd == diarkis::wire::kCmdKeepAlive) {
        diarkis::test::writeAll(fd, c.heartbeatAnswer(diarkis::wire::kNodeOnline, r.timestamp));
      }
      if (r.ver == 2 && r.cmd == 50) {
        for (uint32_t i = 0; i < kPushes; ++i) {
          Bytes body(kSize, 0x5a);
          for (int b = 0; b < 4; ++b) body[static_cast<size_t>(b)] = static_cast<uint8_t>(i >> (24 - 8 * b));
          diarkis::test::writeAll(fd, c.push(2, 51, body));  // blocks while the client does not read
          written.store(i + 1);
        }
      }
      return true;
    });
  });
  dk_context* ctx = dk_context_create();
  ASSERT_NE(ctx, nullptr);
  dk_options o{};
  o.struct_size = sizeof o;
  o.receive_high_water_mark = kMark;
  const int id = dk_tcp_create(ctx, &o);
  ASSERT_GT(id, 0);
  const diarkis::test::CapiEndpoint endpoint(node.port());
  ASSERT_EQ(dk_connect(ctx, id, &endpoint.ep), 0);
  dk_event ev[64];
  bool connected = false;
  for (int i = 0; i < 20 && !connected; ++i) {
    const int n = dk_poll(ctx, ev, 64, 1000);
    for (int k = 0; k < n; ++k) connected = connected || ev[k].type == DK_EV_CONNECT;
  }
  ASSERT_TRUE(connected);
  ASSERT_EQ(dk_rsend(ctx, id, 2, 50, nullptr, 0), 0);

  // Nobody polls now.
  dk_stats st{};
  st.struct_size = sizeof st;
  ASSERT_TRUE(eventually([&] { return dk_stats_get(ctx, id, &st) == 0 && st.receive_pauses >= 1; }));
  const uint64_t atPause = st.undelivered_bytes;
  EXPECT_GE(atPause, kMark);
  EXPECT_LE(atPause, kMark + (128u << 10));  // one 64 KiB read past the mark at most
  // Paused, the node cannot write everything (its socket buffer and ours fill up).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(dk_stats_get(ctx, id, &st), 0);
  EXPECT_EQ(st.undelivered_bytes, atPause);
  EXPECT_LT(written.load(), kPushes);

  // The caller catches up: every push, in order.
  uint32_t next = 0;
  bool inOrder = true;
  // Bounded in time, not in polls: a poll returns as soon as one event is there, and under
  // ASan the fake node writes slowly enough that many polls return only a few.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (next < kPushes && std::chrono::steady_clock::now() < deadline) {
    const int n = dk_poll(ctx, ev, 64, 100);
    for (int k = 0; k < n; ++k) {
      if (ev[k].type != DK_EV_PUSH || ev[k].cmd != 51) continue;
      const uint8_t* p = ev[k].payload;
      const uint32_t seq = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
      inOrder = inOrder && seq == next && ev[k].len == kSize;
      ++next;
    }
  }
  EXPECT_EQ(next, kPushes);
  EXPECT_TRUE(inOrder);
  EXPECT_EQ(dk_state(ctx, id), DK_STATE_CONNECTED);
  ASSERT_EQ(dk_stats_get(ctx, id, &st), 0);
  EXPECT_EQ(st.undelivered_bytes, 0u);
  EXPECT_EQ(dk_destroy(ctx, id), 0);
  dk_context_destroy(ctx);
}

TEST(CapiBacklog, AStatsStructOfVersionOneIsStillFilled) {
  dk_context* ctx = dk_context_create();
  ASSERT_NE(ctx, nullptr);
  const int id = dk_tcp_create(ctx, nullptr);
  dk_stats st{};
  st.struct_size = offsetof(dk_stats, dropped) + sizeof(uint64_t);  // a caller built against version 1
  st.undelivered_bytes = 77;
  EXPECT_EQ(dk_stats_get(ctx, id, &st), 0);
  EXPECT_EQ(st.undelivered_bytes, 77u);  // beyond its struct: untouched
  st.struct_size = 8;
  EXPECT_EQ(dk_stats_get(ctx, id, &st), DK_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(dk_error_name(DK_ERR_RECEIVE_STALLED), "receive-stalled");
  dk_context_destroy(ctx);
}

}  // namespace
