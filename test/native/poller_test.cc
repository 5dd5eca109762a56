// Every Poller backend this platform builds, through one parametrised suite: epoll
// and poll() on Linux, poll() on other POSIX, WSAPoll on Windows (under wine here).
// The runtime relies on these semantics: level-triggered readiness, write interest
// only when asked, keys returned as given, epoll_ctl's add/modify contract.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/poller.h"
#include "io/waker.h"
#include "loopback_pair.h"

namespace diarkis {
namespace {

using test::tcpLoopbackPair;

struct Backend {
  const char* name;
  std::unique_ptr<Poller> (*make)();
};

const std::vector<Backend>& backends() {
  static const std::vector<Backend> all = {
#if defined(_WIN32)
      {"wsapoll", makeWsaPollPoller},
#else
#if defined(__linux__)
      {"epoll", makeEpollPoller},
#endif
      {"poll", makePollPoller},
#endif
  };
  return all;
}

// Long enough never to fire on a loaded machine; a wait that should return at once
// and does not fails the test after it.
constexpr int kWaitMs = 10000;
// A key with high bits set: the backends must carry all 64 bits.
constexpr uint64_t kKey = 0xA5A5'0000'0000'0007ULL;

class PollerTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(socketsStartup());
    poller = GetParam().make();
    ASSERT_TRUE(tcpLoopbackPair(a, b));
  }

  // Events from one wait (timeout 0 = a non-blocking look).
  std::vector<PollEvent> poll(int timeoutMs) {
    std::vector<PollEvent> out;
    const int n = poller->wait(out, timeoutMs);
    EXPECT_EQ(n, static_cast<int>(out.size()));
    return out;
  }

  std::unique_ptr<Poller> poller;
  UniqueSocket a;
  UniqueSocket b;
};

TEST_P(PollerTest, NothingReadyTimesOutEmpty) {
  ASSERT_TRUE(poller->add(b.get(), kKey, false));
  EXPECT_TRUE(poll(0).empty());
  EXPECT_TRUE(poll(20).empty());
}

TEST_P(PollerTest, ReadableWhenDataArrivesAndStaysSoUntilRead) {
  ASSERT_TRUE(poller->add(b.get(), kKey, false));
  ASSERT_EQ(sendBytes(a.get(), "hi", 2), 2);
  auto ev = poll(kWaitMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].key, kKey);
  EXPECT_TRUE(ev[0].readable);
  EXPECT_FALSE(ev[0].writable);
  EXPECT_FALSE(ev[0].failed);
  // Level-triggered: unread data is reported again.
  ASSERT_EQ(poll(0).size(), 1u);
  char buf[8];
  ASSERT_EQ(recvBytes(b.get(), buf, sizeof buf), 2);
  EXPECT_TRUE(poll(0).empty());
}

TEST_P(PollerTest, WritableOnlyWhileAsked) {
  ASSERT_TRUE(poller->add(a.get(), 1, true));
  auto ev = poll(kWaitMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].writable);
  EXPECT_FALSE(ev[0].readable);
  ASSERT_TRUE(poller->modify(a.get(), 2, false));
  EXPECT_TRUE(poll(0).empty());
  ASSERT_TRUE(poller->modify(a.get(), 3, true));
  ev = poll(kWaitMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].key, 3u);  // modify replaces the key too
}

TEST_P(PollerTest, RemovedSocketIsNotReported) {
  ASSERT_TRUE(poller->add(b.get(), kKey, false));
  poller->remove(b.get());
  ASSERT_EQ(sendBytes(a.get(), "x", 1), 1);
  // Something else that is ready ends the wait: only it may be reported.
  ASSERT_TRUE(poller->add(a.get(), 9, true));
  auto ev = poll(kWaitMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].key, 9u);
  poller->remove(b.get());  // removing twice is harmless
}

TEST_P(PollerTest, AddTwiceAndModifyUnknownFailLikeEpollCtl) {
  ASSERT_TRUE(poller->add(b.get(), 1, false));
  EXPECT_FALSE(poller->add(b.get(), 2, false));
  EXPECT_FALSE(poller->modify(a.get(), 3, false));
}

TEST_P(PollerTest, PeerCloseIsReportedAndReadsEndOfStream) {
  ASSERT_TRUE(poller->add(b.get(), kKey, false));
  a.reset();
  auto ev = poll(kWaitMs);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].readable || ev[0].failed);
  char buf[8];
  EXPECT_EQ(recvBytes(b.get(), buf, sizeof buf), 0);
}

TEST_P(PollerTest, ManySocketsReportExactlyTheReadyOnes) {
  // More than one backend batch would hold, and removals in the middle (swap-remove).
  constexpr int kPairs = 40;
  std::vector<UniqueSocket> left(kPairs), right(kPairs);
  for (int i = 0; i < kPairs; ++i) {
    ASSERT_TRUE(tcpLoopbackPair(left[i], right[i]));
    ASSERT_TRUE(poller->add(right[i].get(), 1000 + static_cast<uint64_t>(i), false));
  }
  for (int i = 0; i < kPairs; i += 5) poller->remove(right[i].get());
  for (int i = 0; i < kPairs; ++i) ASSERT_EQ(sendBytes(left[i].get(), "z", 1), 1);
  // Data may arrive over more than one wait; collect until every expected key came.
  std::vector<bool> seen(kPairs, false);
  int expected = 0;
  for (int i = 0; i < kPairs; ++i) expected += (i % 5 != 0) ? 1 : 0;
  int got = 0;
  while (got < expected) {
    auto ev = poll(kWaitMs);
    ASSERT_FALSE(ev.empty()) << "only " << got << " of " << expected;
    for (const auto& e : ev) {
      const auto i = static_cast<int>(e.key - 1000);
      ASSERT_TRUE(i >= 0 && i < kPairs && i % 5 != 0) << e.key;
      EXPECT_TRUE(e.readable);
      if (!seen[i]) ++got;
      seen[i] = true;
      char c;
      recvBytes(right[i].get(), &c, 1);
    }
  }
}

TEST_P(PollerTest, WakerWakesAWaitFromAnotherThreadAndDrains) {
  Waker waker;
  ASSERT_TRUE(poller->add(waker.handle(), kKey, false));
  EXPECT_TRUE(poll(0).empty());
  std::thread t([&] {
    for (int i = 0; i < 3; ++i) waker.signal();  // coalesce into one wake-up
  });
  auto ev = poll(kWaitMs);
  t.join();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].key, kKey);
  EXPECT_TRUE(ev[0].readable);
  waker.drain();
  EXPECT_TRUE(poll(0).empty());
  waker.signal();  // and again after a drain
  EXPECT_EQ(poll(kWaitMs).size(), 1u);
}

TEST_P(PollerTest, DefaultPollerIsOneOfTheBackends) {
  auto p = makeDefaultPoller();
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->add(b.get(), kKey, false));
  ASSERT_EQ(sendBytes(a.get(), "d", 1), 1);
  std::vector<PollEvent> out;
  ASSERT_EQ(p->wait(out, kWaitMs), 1);
  EXPECT_EQ(out[0].key, kKey);
}

INSTANTIATE_TEST_SUITE_P(Backends, PollerTest, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<Backend>& param) {
                           return std::string(param.param.name);
                         });

}  // namespace
}  // namespace diarkis
