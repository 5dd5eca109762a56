#include "io/loop.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "io/socket_shim.h"

namespace diarkis {
namespace {

constexpr uint64_t kWakeKey = 0;  // client ids are never 0
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxWaitMs = 60000;

}  // namespace

uint64_t allocateClientId() {
  // 2^64 ids at a billion a second last 584 years: no wrap, so no clash with kWakeKey.
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void Loop::fail(uint64_t id, const char* what) noexcept {
  internalErrors_.fetch_add(1, std::memory_order_relaxed);
  auto it = entries_.find(id);
  if (id == kWakeKey || it == entries_.end()) return;  // a command without a live client: nothing to end
  std::shared_ptr<LoopHandler> h = it->second.handler;
  h->fail(what);
  detach(id);
}

Loop::Loop() : poller_(makeDefaultPoller()), waker_(std::make_unique<Waker>()), readBuf_(64 * 1024) {
  if (!poller_->add(waker_->handle(), kWakeKey, false)) {
    throw std::runtime_error("poller add waker: " + socketErrorText(lastSocketError()));
  }
}

Loop::Loop(std::unique_ptr<Poller> hostPoller)
    : poller_(std::move(hostPoller)), hostMode_(true), readBuf_(64 * 1024) {}

Loop::~Loop() = default;

bool Loop::post(std::function<void()> fn) {
  if (hostMode_) {
    // The host's own thread: no queue, no wake-up, unless a handler is running.
    if (stopping()) return false;
    if (busy_) {
      queue_.push_back(std::move(fn));
    } else {
      fn();
    }
    return true;
  }
  bool wake = false;
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    if (stopping_.load(std::memory_order_acquire)) return false;
    wake = queue_.empty();  // signal only on empty -> non-empty
    queue_.push_back(std::move(fn));
  }
  if (wake) waker_->signal();
  return true;
}

void Loop::stop() {
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    stopping_.store(true, std::memory_order_release);
  }
  if (hostMode_) return;
  waker_->signal();
}

void Loop::run() {
  threadId_.store(std::this_thread::get_id(), std::memory_order_release);
  std::vector<PollEvent> ready;
  while (!stopping()) {
    ready.clear();
    poller_->wait(ready, waitTimeoutMs(Runtime::nowMs()));
    const double now = Runtime::nowMs();
    for (const PollEvent& ev : ready) {
      if (ev.key == kWakeKey) {
        waker_->drain();
        continue;
      }
      if (LoopHandler* h = find(ev.key)) guard(ev.key, [&] { h->onReady(ev, now); });
    }
    runCommands();
    runTimers(Runtime::nowMs(), false);
    flushDirty(Runtime::nowMs());
    graveyard_.clear();
    if (heap_.size() > 2 * entries_.size() + 1024) compactHeap();
  }
  abandonAll();
}

int Loop::waitTimeoutMs(double now) {
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    if (!queue_.empty()) return 0;
  }
  if (!dirty_.empty()) return 0;
  if (heap_.empty()) return kMaxWaitMs;
  const double wait = std::ceil(heap_.front().deadline - now);
  if (wait <= 0) return 0;
  return wait >= kMaxWaitMs ? kMaxWaitMs : static_cast<int>(wait);
}

void Loop::runCommands() {
  // Swapped with a vector kept across iterations, so neither side loses its capacity.
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    if (queue_.empty()) return;
    running_.swap(queue_);
  }
  for (auto& fn : running_) {
    if (stopping()) break;
    guard(kWakeKey, fn);  // client commands guard themselves (RuntimeImpl::postLoop); this is the backstop
  }
  running_.clear();
}

void Loop::dispatchReady(const PollEvent& ev, double now) {
  busy_ = true;
  if (LoopHandler* h = find(ev.key)) guard(ev.key, [&] { h->onReady(ev, now); });
  busy_ = false;
  runCommands();
}

void Loop::dispatchTimers(double now) {
  busy_ = true;
  runTimers(now, true);
  busy_ = false;
  runCommands();
}

void Loop::flushOutput(double now) {
  busy_ = true;
  flushDirty(now);
  busy_ = false;
  runCommands();
  graveyard_.clear();
  if (heap_.size() > 2 * entries_.size() + 1024) compactHeap();
}

double Loop::nextDeadline() const { return heap_.empty() ? kInf : heap_.front().deadline; }

void Loop::shutdownHost() {
  stop();
  busy_ = false;
  abandonAll();
}

void Loop::runTimers(double now, bool readLate) {
  // What is due now, taken out first: a handler that re-arms at a past deadline (a partly
  // packed DAT or ACK records waiting for this iteration's flush) runs once per pass, not again
  // and again within it. That spun up to the heap's size per pass (docs/decisions.md, issue 9),
  // and over 10,000 late sessions on a starved CPU made a pass so long that the next was due at
  // once: the host's loop stayed in its timer phase for seconds (issue 10, third session).
  std::vector<TimerItem> due;
  due.swap(due_);  // capacity kept across passes; a local, should a handler ever re-enter
  while (!heap_.empty() && heap_.front().deadline <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const TimerItem item = heap_.back();
    heap_.pop_back();
    auto it = entries_.find(item.id);
    if (it != entries_.end() && it->second.gen == item.gen) due.push_back(item);  // else stale: lazily deleted
  }
  for (const TimerItem& item : due) {
    auto it = entries_.find(item.id);
    if (it == entries_.end() || it->second.gen != item.gen) continue;  // detached or re-armed meanwhile
    it->second.scheduled = kInf;
    std::shared_ptr<LoopHandler> h = it->second.handler;  // survives a self-detach
    if (readLate && (now - item.deadline > kLateMs || h->judgesSilenceAt(now))) {
      PollEvent ev;
      ev.key = item.id;
      ev.readable = true;
      guard(item.id, [&] { h->onReady(ev, now); });
      if (find(item.id) != h.get()) continue;  // the read ended it
    }
    guard(item.id, [&] { h->onTimer(now); });
  }
  due.clear();
  due_.swap(due);
}

void Loop::flushDirty(double now) {
  // Swapped, not moved out: a flush per turn allocated and freed the list (the host driver
  // flushes once per loop turn). A local still, should a handler ever re-enter.
  std::vector<uint64_t> ids;
  ids.swap(flushing_);
  ids.swap(dirty_);
  for (uint64_t id : ids) {
    auto it = entries_.find(id);
    if (it == entries_.end() || !it->second.dirty) continue;
    it->second.dirty = false;
    std::shared_ptr<LoopHandler> h = it->second.handler;
    guard(id, [&] { h->flush(now); });
  }
  ids.clear();
  if (flushing_.capacity() < ids.capacity()) flushing_.swap(ids);
}

void Loop::attach(uint64_t id, std::shared_ptr<LoopHandler> h) {
  auto [it, inserted] = entries_.try_emplace(id);
  if (!inserted) return;
  it->second.handler = std::move(h);
  it->second.scheduled = kInf;
  active_.fetch_add(1, std::memory_order_relaxed);
}

void Loop::detach(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  graveyard_.push_back(std::move(it->second.handler));
  entries_.erase(it);
  active_.fetch_sub(1, std::memory_order_relaxed);
}

LoopHandler* Loop::find(uint64_t id) {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second.handler.get();
}

void Loop::schedule(uint64_t id, double deadline) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.scheduled == deadline) return;
  it->second.scheduled = deadline;
  ++it->second.gen;  // any older heap item for id is now stale
  if (deadline == kInf) return;
  heap_.push_back({deadline, id, it->second.gen});
  std::push_heap(heap_.begin(), heap_.end(), later);
}

void Loop::markDirty(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.dirty) return;
  it->second.dirty = true;
  dirty_.push_back(id);
}

void Loop::compactHeap() {
  std::vector<TimerItem> live;
  live.reserve(entries_.size());
  for (const auto& [id, e] : entries_) {
    if (e.scheduled != kInf) live.push_back({e.scheduled, id, e.gen});
  }
  std::make_heap(live.begin(), live.end(), later);
  heap_.swap(live);
}

void Loop::abandonAll() {
  std::vector<std::function<void()>> dropped;  // never run; destroyed outside the lock
  {
    std::lock_guard<std::mutex> lk(queueMu_);
    dropped.swap(queue_);
  }
  for (auto& [id, e] : entries_) {
    try {
      e.handler->abandon();
    } catch (...) {
      // Shutting down: the socket is closed by the handler's destructor regardless.
    }
  }
  entries_.clear();
  heap_.clear();
  dirty_.clear();
  graveyard_.clear();
  active_.store(0, std::memory_order_relaxed);
}

}  // namespace diarkis
