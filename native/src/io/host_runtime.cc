// HostRuntime (runtime.h): the Loop in host mode, its sockets watched and its one
// timer armed by a host loop through HostIo. No thread, no command queue, no
// wake-up: a command runs on the caller's (the host's) thread at once.
#include <limits>
#include <stdexcept>

#include "io/runtime_impl.h"

namespace diarkis {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Poller over HostIo. wait() is never called: the host waits.
class HostPoller final : public Poller {
 public:
  explicit HostPoller(HostIo* io) : io_(io) {}
  bool add(SocketHandle fd, uint64_t key, bool wantWrite) override { return io_ && io_->watch(fd, key, wantWrite); }
  bool modify(SocketHandle fd, uint64_t key, bool wantWrite) override { return io_ && io_->rewatch(fd, key, wantWrite); }
  void remove(SocketHandle fd) override {
    if (io_) io_->unwatch(fd);
  }
  int wait(std::vector<PollEvent>& out, int timeoutMs) override {
    (void)out;
    (void)timeoutMs;
    return 0;
  }
  void detach() { io_ = nullptr; }

 private:
  HostIo* io_;
};

class HostRuntimeImpl final : public HostRuntime, public RuntimeImpl {
 public:
  explicit HostRuntimeImpl(HostIo* io) : io_(io) {
    auto poller = std::make_unique<HostPoller>(io);
    poller_ = poller.get();
    loop_ = std::make_unique<Loop>(std::move(poller));
  }
  ~HostRuntimeImpl() override { shutdown(); }

  // --- Runtime ---
  void post(std::function<void()> fn) override {
    if (loop_->post(std::move(fn))) afterCommand();
  }
  bool onNetworkThread() const override { return true; }  // by contract: callers are on the host's thread
  void shutdown() override {
    if (!io_) return;
    loop_->shutdownHost();  // abandons every handler: their sockets are unwatched, then closed
    poller_->detach();
    io_ = nullptr;
  }
  size_t activeClients() const override { return loop_->activeClients(); }

  // --- RuntimeImpl ---
  Loop& loop() override { return *loop_; }
  bool postLoop(uint64_t id, std::function<void(Loop&)> fn) override {
    if (loop_->stopping()) return false;
    Loop* loop = loop_.get();
    if (loop->busy()) {  // run right after the handler in progress
      return loop->post([loop, id, fn = std::move(fn)] { loop->guard(id, [&] { fn(*loop); }); });
    }
    loop->guard(id, [&] { fn(*loop); });  // the host's thread, outside any handler: at once, no queue
    afterCommand();
    return true;
  }
  bool onLoopThread() const override { return true; }
  bool runsNow() const override { return io_ != nullptr && !loop_->busy(); }
  void commandBegin() override { loop_->enterDirect(); }
  void commandDone() override {
    loop_->leaveDirect();
    afterCommand();
  }

  // --- HostRuntime ---
  void onReady(uint64_t key, bool readable, bool writable, bool failed) override {
    if (!io_) return;
    PollEvent ev;
    ev.key = key;
    ev.readable = readable;
    ev.writable = writable;
    ev.failed = failed;
    loop_->dispatchReady(ev, Runtime::nowMs());
    afterInput();
  }
  void onTimer() override {
    if (!io_) return;
    armed_ = kInf;  // the host's timer is one-shot
    loop_->dispatchTimers(Runtime::nowMs());
    afterInput();
  }
  void flush() override {
    if (!io_) return;
    loop_->flushOutput(Runtime::nowMs());
    syncTimer();
  }

 private:
  void afterInput() {
    if (loop_->hasOutput()) io_->requestFlush();
    syncTimer();
  }
  void afterCommand() {
    if (!io_) return;
    if (loop_->hasOutput()) io_->requestFlush();
    syncTimer();
  }
  void syncTimer() {
    if (!io_) return;
    const double d = loop_->nextDeadline();
    if (d == armed_) return;
    armed_ = d;
    io_->setTimer(d);
  }

  HostIo* io_;
  HostPoller* poller_ = nullptr;
  std::unique_ptr<Loop> loop_;
  double armed_ = kInf;
};

}  // namespace

std::shared_ptr<HostRuntime> HostRuntime::create(HostIo* io) {
  if (!io) throw std::invalid_argument("diarkis: HostRuntime needs a HostIo");
  return std::make_shared<HostRuntimeImpl>(io);
}

}  // namespace diarkis
