// DiarkisUdpBase on the host runtime (the Node addon's default driver) over a real loopback
// socket, driven by PollHost on the test's own thread. A send settles only what its caller
// must see at once; packing, collecting and the timer wait for the turn's flush (issue 9,
// eighth session). These tests hold the driver to that: a send asks for the flush, writes
// nothing by itself, and the flush packs a burst and re-arms the timer.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "poll_host.h"
#include "udp_loopback_server.h"

namespace diarkis {
namespace {

using test::LoopbackServer;
using test::PollHost;
using test::Rec;
using test::UdpRecorder;

size_t countOf(UdpRecorder& c, EventType t) { return c.of(t).size(); }

class UdpHostRuntimeTest : public ::testing::Test {
 protected:
  void TearDown() override { rt->shutdown(); }
  std::unique_ptr<UdpRecorder> connected() {
    auto c = std::make_unique<UdpRecorder>(rt, options);
    EXPECT_EQ(c->Connect("127.0.0.1", server.port(), rudp_test::testKeys()), ErrorCode::None);
    EXPECT_TRUE(host.runUntil(*rt, [&] { return countOf(*c, EventType::Connect) == 1; }));
    return c;
  }
  static UdpOptions makeOptions() {
    UdpOptions o;
    o.retryMinMs = 50;
    o.retryMaxMs = 200;
    o.echoIntervalMs = 60000;  // no echo in the counts
    return o;
  }
  UdpOptions options = makeOptions();
  PollHost host;
  std::shared_ptr<HostRuntime> rt = HostRuntime::create(&host);
  LoopbackServer server{options};
};

size_t requestsSeen(LoopbackServer& s) {
  return s.with([](rudp_test::SimServer& sim) { return sim.requests.size(); });
}

TEST_F(UdpHostRuntimeTest, ABurstFromTheHostsThreadWaitsForTheFlushAndLeavesPacked) {
  auto c = connected();
  host.runUntil(*rt, [&] { return !host.flushRequested(); });
  const uint64_t sentBefore = c->GetStats().packetsSent;
  for (int i = 0; i < 40; ++i) ASSERT_EQ(c->rsend(1, "m" + std::to_string(i) + std::string(80, '.')), ErrorCode::None);
  EXPECT_TRUE(host.flushRequested());  // the sends asked for the flush ...
  EXPECT_EQ(c->GetStats().packetsSent, sentBefore);  // ... and wrote nothing themselves
  rt->flush();
  // 40 sealed requests of ~140 bytes: a handful of DATs, not 40 datagrams.
  const uint64_t dats = c->GetStats().packetsSent - sentBefore;
  EXPECT_GE(dats, 3u);
  EXPECT_LE(dats, 8u);
  EXPECT_LT(host.timer(), Runtime::nowMs() + options.retryMaxMs + 1);  // the retransmission timer is armed
  ASSERT_TRUE(host.runUntil(*rt, [&] { return countOf(*c, EventType::Response) == 40; }));
  const std::vector<Rec> rs = c->of(EventType::Response);
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(rs[i].text, "m" + std::to_string(i) + std::string(80, '.'));
  EXPECT_EQ(requestsSeen(server), 40u);
}

// One request at a time, each sent from inside the previous response's callback (the
// loop is busy: the send is a command run right after it, its settle left to the turn's
// flush). Every one is answered, in order, and none had to be resent.
TEST_F(UdpHostRuntimeTest, ARequestSentFromACallbackLeavesInTheSameTurn) {
  auto c = connected();
  int next = 1;
  c->onResponse = [&](UdpRecorder& self) {
    if (next < 30) {
      ASSERT_EQ(self.rsend(1, "r" + std::to_string(next++)), ErrorCode::None);
    }
  };
  ASSERT_EQ(c->rsend(1, "r0"), ErrorCode::None);
  ASSERT_TRUE(host.runUntil(*rt, [&] { return countOf(*c, EventType::Response) == 30; }));
  const std::vector<Rec> rs = c->of(EventType::Response);
  for (size_t i = 0; i < rs.size(); ++i) EXPECT_EQ(rs[i].text, "r" + std::to_string(i));
  EXPECT_EQ(c->GetStats().retransmits, 0u);
}

}  // namespace
}  // namespace diarkis
