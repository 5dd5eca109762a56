// Exactly-once, in-order delivery through a seeded lossy link, both directions,
// for both retry policies: the condition matrix of the RUDP layer.
#include <gtest/gtest.h>

#include <cstdio>
#include <tuple>

#include "rudp_sim.h"

namespace diarkis {
namespace {

using rudp_test::Conditions;
using rudp_test::Harness;

struct Case {
  const char* name;
  Conditions link;
};

const Case kCases[] = {
    {"clean", {0, 0, 0, 20}},
    {"loss10_reorder5", {0.10, 0.05, 0, 20}},
    {"loss20_reorder30_dup25", {0.20, 0.30, 0.25, 20}},
};

class RudpLink : public ::testing::TestWithParam<std::tuple<int, bool>> {};

TEST_P(RudpLink, ExactlyOnceInOrderBothWays) {
  const Case& c = kCases[std::get<0>(GetParam())];
  const bool adaptive = std::get<1>(GetParam());
  constexpr uint32_t kMessages = 2000;
  UdpOptions o;
  o.adaptive = adaptive;
  // The adaptive policy runs at its defaults. The wire policy gives up after 10
  // resends of one DAT, and with 20% loss each way a DAT/ACK pair fails 36% of
  // the time, so this delivery test lets it retry longer.
  if (!adaptive) o.maxRetries = 40;
  Harness h(o, c.link, 1000u + static_cast<uint32_t>(std::get<0>(GetParam())) * 2 + (adaptive ? 1 : 0));
  h.server.fixedInitialSeq = 0xFFFF00;  // the server's stream wraps through 0 on the way
  h.client.start(0);
  ASSERT_TRUE(h.runUntil([&] { return h.client.state() == ClientState::Connected; }, 10000));
  for (uint32_t i = 0; i < kMessages; ++i) {
    const Bytes b = rudp_test::u32(i);
    ASSERT_EQ(h.client.send(2, 4, b.data(), b.size(), true, h.now), ErrorCode::None);
    h.server.push(2, 6, b, h.now);
  }
  auto pushes = [&] { return h.count(EventType::Push); };
  ASSERT_TRUE(h.runUntil([&] { return h.server.requests.size() >= kMessages && pushes() >= kMessages; },
                         3600e3))
      << c.name << ": requests " << h.server.requests.size() << " pushes " << pushes() << " at " << h.now
      << " ms; disconnect: " << (h.last(EventType::Disconnect) ? h.last(EventType::Disconnect)->message : "none")
      << "; client in flight " << h.client.channel().inFlight() << " queued " << h.client.channel().queued()
      << " cwnd " << h.client.channel().cwnd();
  const double took = h.now;
  if (adaptive) {
    // Simulated time (20 ms each way): the adaptive sender recovers within a few RTTs.
    EXPECT_LT(took, 5000) << c.name;
  }
  std::printf("[ %s %s: %.0f ms simulated, client sent %zu datagrams ]\n", c.name,
              adaptive ? "adaptive" : "wire", took, h.clientSent.size());
  h.runFor(30000);  // late duplicates and retransmissions must not deliver anything twice
  ASSERT_EQ(h.server.requests.size(), kMessages);
  for (uint32_t i = 0; i < kMessages; ++i) {
    ASSERT_EQ(rudp_test::getU32(h.server.requests[i].body), i) << c.name;
  }
  uint32_t next = 0;
  for (const Event& e : h.events) {
    if (e.type != EventType::Push) continue;
    ASSERT_EQ(e.cmd, 6);
    ASSERT_EQ(rudp_test::getU32(e.payload), next) << c.name;
    ++next;
  }
  EXPECT_EQ(next, kMessages);
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  EXPECT_EQ(h.budget.queued(), 0u);
  EXPECT_EQ(h.client.serverInitialSeq(), 0xFFFF00u);
  if (c.link.loss > 0) {
    EXPECT_GT(h.clientStats.retransmits.load(), 0u);
    EXPECT_GT(h.clientStats.drops[static_cast<size_t>(DropReason::Duplicate)].load(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Matrix, RudpLink, ::testing::Combine(::testing::Range(0, 3), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<int, bool>>& p) {
                           return std::string(kCases[std::get<0>(p.param)].name) +
                                  (std::get<1>(p.param) ? "_adaptive" : "_fixed");
                         });

}  // namespace
}  // namespace diarkis
