// The host-mode Loop's timer pass: only what is due as the pass starts runs in it.
#include <gtest/gtest.h>

#include <memory>

#include "io/loop.h"

namespace diarkis {
namespace {

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

TEST(LoopTimers, AHandlerReArmingAtADueDeadlineWaitsForTheNextPass) {
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
