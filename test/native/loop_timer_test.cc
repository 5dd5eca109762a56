// Loop timer passes (io/loop.h), on the host-mode Loop with a fake clock: a
// handler that re-arms at a deadline already past (a UDP session whose partly
// packed DAT waits for the iteration's flush) runs once per pass. Before, one
// pass ran it again for every heap item, each time with a late read on the
// host loop: ~300 reads per echo with 200 clients (docs/decisions.md, issue 9).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "io/loop.h"

namespace diarkis {
namespace {

class NullPoller final : public Poller {
 public:
  bool add(SocketHandle, uint64_t, bool) override { return true; }
  bool modify(SocketHandle, uint64_t, bool) override { return true; }
  void remove(SocketHandle) override {}
  int wait(std::vector<PollEvent>&, int) override { return 0; }
};

// Re-arms at `rearmAt` from onTimer until flushed, as UdpConnection::settle does
// while its flush is due; the flush moves the deadline into the future.
class Sticky final : public LoopHandler {
 public:
  Sticky(Loop& loop, uint64_t id, double rearmAt) : loop_(loop), id_(id), rearmAt_(rearmAt) {}
  void onReady(const PollEvent&, double) override { ++reads; }
  void onTimer(double) override {
    ++timers;
    loop_.schedule(id_, rearmAt_);
    loop_.markDirty(id_);
  }
  void flush(double now) override {
    ++flushes;
    rearmAt_ = now + 1000;
    loop_.schedule(id_, rearmAt_);
  }
  void abandon() override {}
  bool judgesSilenceAt(double) const override { return judges; }
  int reads = 0;
  int timers = 0;
  int flushes = 0;
  bool judges = false;  // its timer would end it for the peer's silence

 private:
  Loop& loop_;
  uint64_t id_;
  double rearmAt_;
};

struct Swarm {
  explicit Swarm(int n, double deadline) : loop(std::make_unique<NullPoller>()) {
    for (int i = 0; i < n; ++i) {
      const uint64_t id = allocateClientId();
      auto h = std::make_shared<Sticky>(loop, id, deadline);
      handlers.push_back(h);
      loop.attach(id, h);
      loop.schedule(id, deadline);
    }
  }
  ~Swarm() { loop.shutdownHost(); }
  Loop loop;
  std::vector<std::shared_ptr<Sticky>> handlers;
};

TEST(LoopTimerTest, AHandlerReArmedAtAPastDeadlineRunsOncePerPass) {
  Swarm s(200, 100);
  s.loop.dispatchTimers(101);  // on time: no late read
  for (const auto& h : s.handlers) {
    EXPECT_EQ(h->timers, 1);
    EXPECT_EQ(h->reads, 0);
  }
  s.loop.flushOutput(101);  // the iteration's flush moves every deadline on
  for (const auto& h : s.handlers) EXPECT_EQ(h->flushes, 1);
  s.loop.dispatchTimers(102);  // what the first pass re-armed is stale now
  for (const auto& h : s.handlers) EXPECT_EQ(h->timers, 1);
  s.loop.dispatchTimers(1101);
  for (const auto& h : s.handlers) EXPECT_EQ(h->timers, 2);
}

TEST(LoopTimerTest, ALateTimerReadsItsSocketOncePerPass) {
  Swarm s(200, 100);
  s.loop.dispatchTimers(100 + Loop::kLateMs + 50);  // the host's thread was blocked
  for (const auto& h : s.handlers) {
    EXPECT_EQ(h->reads, 1);
    EXPECT_EQ(h->timers, 1);
  }
  s.loop.dispatchTimers(100 + Loop::kLateMs + 51);  // the next pass runs them again, once
  for (const auto& h : s.handlers) {
    EXPECT_EQ(h->reads, 2);
    EXPECT_EQ(h->timers, 2);
  }
}

// Node's loop runs timers before its poll phase: an on-time timer that would judge the
// peer silent reads the socket first (an answer that came during the last busy turn
// waits there unread); other on-time timers do not pay a read.
TEST(LoopTimerTest, AnOnTimeTimerThatJudgesSilenceReadsItsSocketFirst) {
  Swarm s(4, 100);
  s.handlers[1]->judges = true;
  s.handlers[3]->judges = true;
  s.loop.dispatchTimers(101);
  for (size_t i = 0; i < s.handlers.size(); ++i) {
    EXPECT_EQ(s.handlers[i]->reads, s.handlers[i]->judges ? 1 : 0) << i;
    EXPECT_EQ(s.handlers[i]->timers, 1) << i;
  }
}

// Re-arms at its old, already passed deadline every time its timer runs (as a UDP
// session with ACK records waiting for the flush after the pass does).
struct ReArming : LoopHandler {
  Loop* loop = nullptr;
  uint64_t id = 0;
  int timers = 0;
  void onReady(const PollEvent&, double) override {}
  void onTimer(double) override {
    ++timers;
    loop->schedule(id, 0);
  }
  void flush(double) override {}
  void abandon() override {}
};

TEST(LoopTimerTest, StaleHeapEntriesDoNotRunAHandlerAgainInOnePass) {
  Loop loop(makeDefaultPoller());
  std::shared_ptr<ReArming> h[3];
  for (uint64_t i = 0; i < 3; ++i) {
    h[i] = std::make_shared<ReArming>();
    h[i]->loop = &loop;
    h[i]->id = i + 1;
    loop.attach(i + 1, h[i]);
    loop.schedule(i + 1, 5);
    loop.schedule(i + 1, 0);  // a stale heap entry each, as re-armed sessions leave
  }
  loop.dispatchTimers(10);
  // Before: the first handler ran again and again up to a budget of the heap's size.
  for (auto& x : h) EXPECT_EQ(x->timers, 1);
  loop.dispatchTimers(10);
  for (auto& x : h) EXPECT_EQ(x->timers, 2);
  loop.shutdownHost();
}

}  // namespace
}  // namespace diarkis
