// A tiny host for HostRuntime on the test's own thread (the platform's poller: epoll,
// WSAPoll), driving it the way the Node addon does from libuv: timers, poll, flush.
#pragma once
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <vector>

#include "diarkis/runtime.h"
#include "io/poller.h"

namespace diarkis::test {

inline constexpr double kHostSafetyMs = 20000;

class PollHost final : public HostIo {
 public:
  bool watch(SocketHandle fd, uint64_t key, bool wantWrite) override {
    if (fds_.count(fd) || !poller_->add(fd, key, wantWrite)) return false;
    fds_[fd] = key;
    ++keys_[key];
    return true;
  }
  bool rewatch(SocketHandle fd, uint64_t key, bool wantWrite) override {
    auto it = fds_.find(fd);
    if (it == fds_.end() || it->second != key) return false;
    return poller_->modify(fd, key, wantWrite);
  }
  void unwatch(SocketHandle fd) override {
    auto it = fds_.find(fd);
    if (it == fds_.end()) return;
    poller_->remove(fd);
    if (--keys_[it->second] == 0) keys_.erase(it->second);
    fds_.erase(it);
  }
  void setTimer(double deadlineMs) override { timer_ = deadlineMs; }
  void requestFlush() override { flushRequested_ = true; }

  // One loop turn, in libuv's order: timers, then poll, then what was queued.
  void turn(HostRuntime& rt, int maxWaitMs) {
    if (flushRequested_) {
      flushRequested_ = false;
      rt.flush();
    }
    if (timer_ <= Runtime::nowMs()) {
      timer_ = std::numeric_limits<double>::infinity();
      rt.onTimer();
    }
    double wait = std::min<double>(maxWaitMs, timer_ - Runtime::nowMs());
    if (flushRequested_) wait = 0;
    ready_.clear();
    poller_->wait(ready_, wait <= 0 ? 0 : static_cast<int>(std::ceil(wait)));
    for (const PollEvent& ev : ready_) {
      if (keys_.count(ev.key) == 0) continue;  // an earlier handler closed it
      rt.onReady(ev.key, ev.readable || ev.failed, ev.writable, ev.failed);
    }
    flushRequested_ = false;
    rt.flush();
  }
  bool runUntil(HostRuntime& rt, const std::function<bool()>& done) {
    const double end = Runtime::nowMs() + kHostSafetyMs;
    while (!done()) {
      if (Runtime::nowMs() > end) return false;
      turn(rt, 5);
    }
    return true;
  }
  size_t watched() const { return fds_.size(); }
  bool flushRequested() const { return flushRequested_; }
  double timer() const { return timer_; }

 private:
  std::unique_ptr<Poller> poller_ = makeDefaultPoller();
  std::map<SocketHandle, uint64_t> fds_;
  std::map<uint64_t, int> keys_;  // watched sockets per key (a UDP client may have two)
  std::vector<PollEvent> ready_;
  double timer_ = std::numeric_limits<double>::infinity();
  bool flushRequested_ = false;
};

}  // namespace diarkis::test
