// The event loop behind both drivers (runtime.h). Internal to native/.
//
// Two modes. Thread mode (Loop()): run() is the network thread's body, commands
// from other threads arrive through a queue woken by a Waker (io/waker.h). Host mode
// (Loop(poller)): the host's own loop (Node's libuv loop) watches the sockets and
// one timer and calls dispatchReady / dispatchTimers / flushOutput on its one
// thread; post() then runs the command at once, or right after the handler in
// progress when called from inside one.
//
// What lives here: the poller, the woken command queue, a min-heap of
// timer deadlines with lazy deletion (each reschedule bumps a generation; stale
// heap entries are skipped when they surface), and the set of attached handlers
// keyed by client id. Scales to 10,000+ clients: a loop iteration touches only
// ready sockets, due timers and handlers with fresh output, never all clients.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <exception>
#include <thread>
#include <unordered_map>
#include <vector>

#include "diarkis/runtime.h"
#include "io/poller.h"
#include "io/waker.h"

namespace diarkis {

// Process-wide client ids (TCP and UDP share one space, so one loop can hold both).
// 64-bit: never 0 (the wake key), never wraps, never reused.
uint64_t allocateClientId();

// A client's network-thread side. Every method runs on the network thread.
class LoopHandler {
 public:
  virtual ~LoopHandler() = default;
  virtual void onReady(const PollEvent& ev, double now) = 0;
  virtual void onTimer(double now) = 0;
  // Write what was queued during this iteration (coalesced: one write per iteration).
  virtual void flush(double now) = 0;
  // Runtime shutdown / detach: close at once, no callbacks.
  virtual void abandon() = 0;
  // Host mode: its timer at now would judge the peer silent. The host loop runs
  // timers before it polls, so an answer may wait unread: the Loop reads first.
  virtual bool judgesSilenceAt(double now) const {
    (void)now;
    return false;
  }
  // An exception escaped one of the methods above (or a command for this client):
  // end the client with internal-error, reported like any disconnect. Must not throw.
  virtual void fail(const char* what) noexcept {
    (void)what;
    abandon();
  }
};

class Loop {
 public:
  Loop();  // thread mode; throws std::runtime_error when the poller or the waker cannot be created
  explicit Loop(std::unique_ptr<Poller> hostPoller);  // host mode
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // --- any thread ---
  bool post(std::function<void()> fn);  // false (fn dropped) once stop() began
  void stop();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  bool onThread() const { return threadId_.load(std::memory_order_acquire) == std::this_thread::get_id(); }
  size_t activeClients() const { return active_.load(std::memory_order_relaxed); }
  void run();  // the thread body; returns after stop(), with every handler abandoned

  // --- host mode, on the host's thread ---
  void dispatchReady(const PollEvent& ev, double now);
  // Due timers. A handler whose deadline passed more than kLateMs ago (the host's
  // thread was blocked), or whose timer would judge the peer silent
  // (LoopHandler::judgesSilenceAt), first reads what its socket holds, so that
  // answers that arrived meanwhile count before liveness is judged.
  void dispatchTimers(double now);
  // Writes what handlers queued (one write per handler), frees detached ones.
  void flushOutput(double now);
  bool busy() const { return busy_; }
  // A command run directly by the host (RuntimeImpl::runsNow): posts made from
  // inside it (a callback's Send) wait for leaveDirect(), which runs them.
  void enterDirect() { busy_ = true; }
  void leaveDirect() {
    busy_ = false;
    runCommands();
  }
  bool hasOutput() const { return !dirty_.empty() || !graveyard_.empty(); }
  // The earliest armed deadline (may be a stale one: the timer then finds nothing due).
  double nextDeadline() const;
  // stop() + abandon every handler (no callbacks). Idempotent.
  void shutdownHost();
  static constexpr double kLateMs = 20;

  // Runs fn on the loop's thread for client id (0: no client). An exception from
  // it disconnects that client with internal-error (LoopHandler::fail); the loop
  // goes on. Every handler call and every command goes through here.
  template <class Fn>
  void guard(uint64_t id, Fn&& fn) noexcept {
    try {
      fn();
    } catch (const std::exception& e) {
      fail(id, e.what());
    } catch (...) {
      fail(id, "unknown exception");
    }
  }
  void fail(uint64_t id, const char* what) noexcept;
  uint64_t internalErrors() const { return internalErrors_.load(std::memory_order_relaxed); }

  // --- network thread only ---
  void attach(uint64_t id, std::shared_ptr<LoopHandler> h);
  // Forget a handler. Its destruction waits for the end of the iteration, so a
  // handler may detach itself from inside its own methods.
  void detach(uint64_t id);
  LoopHandler* find(uint64_t id);
  // (Re)arm id's timer; an infinite deadline disarms it. Cheap when unchanged.
  void schedule(uint64_t id, double deadline);
  void markDirty(uint64_t id);
  Poller& poller() { return *poller_; }
  uint8_t* readBuffer() { return readBuf_.data(); }
  size_t readBufferSize() const { return readBuf_.size(); }

 private:
  struct Entry {
    std::shared_ptr<LoopHandler> handler;
    double scheduled;
    uint64_t gen = 0;
    bool dirty = false;
  };
  struct TimerItem {
    double deadline;
    uint64_t id;
    uint64_t gen;
  };
  static bool later(const TimerItem& a, const TimerItem& b) { return a.deadline > b.deadline; }
  int waitTimeoutMs(double now);
  void runCommands();
  void runTimers(double now, bool readLate);
  void flushDirty(double now);
  void compactHeap();
  void abandonAll();

  std::unique_ptr<Poller> poller_;
  std::unique_ptr<Waker> waker_;  // thread mode only
  std::atomic<std::thread::id> threadId_{};
  std::atomic<bool> stopping_{false};
  const bool hostMode_ = false;
  bool busy_ = false;  // host mode: inside a handler; post() queues instead of running
  std::atomic<size_t> active_{0};
  std::atomic<uint64_t> internalErrors_{0};

  std::mutex queueMu_;
  std::vector<std::function<void()>> queue_;  // guarded by queueMu_
  std::vector<std::function<void()>> running_;  // the loop's thread: the batch being run

  std::unordered_map<uint64_t, Entry> entries_;
  std::vector<TimerItem> heap_;  // min-heap on deadline
  std::vector<TimerItem> due_;   // runTimers' scratch: the items due in one pass
  std::vector<uint64_t> dirty_;
  std::vector<uint64_t> flushing_;  // flushDirty's scratch: both keep their capacity across turns
  std::vector<std::shared_ptr<LoopHandler>> graveyard_;
  std::vector<uint8_t> readBuf_;
};

}  // namespace diarkis
