// What the clients see of either runtime (runtime.h): a Loop and a way to run
// commands with it. ThreadRuntime runs the Loop on its own network thread;
// HostRuntimeImpl (host_runtime.cc) lets a host's loop drive it.
#pragma once
#include <memory>
#include <mutex>
#include <thread>

#include "diarkis/runtime.h"
#include "io/loop.h"

namespace diarkis {

class RuntimeImpl {
 public:
  virtual ~RuntimeImpl() = default;
  virtual Loop& loop() = 0;
  // Clients use this to post commands that run with the Loop (on its thread). An
  // exception from fn disconnects client id with internal-error (Loop::guard).
  virtual bool postLoop(uint64_t id, std::function<void(Loop&)> fn) = 0;
  virtual bool onLoopThread() const = 0;
  // True when a command may run right now, on the caller's thread, without a
  // command object (the host-loop driver outside any handler); the caller then
  // brackets it with commandBegin() / commandDone().
  virtual bool runsNow() const { return false; }
  virtual void commandBegin() {}
  virtual void commandDone() {}
};

// The Loop is shared by this facade and the network thread, so that even a
// Runtime destroyed from its own network thread (a documented misuse) leaves the
// thread a live Loop to unwind into.
class ThreadRuntime final : public Runtime, public RuntimeImpl {
 public:
  ThreadRuntime();
  ~ThreadRuntime() override;

  void post(std::function<void()> fn) override { loop_->post(std::move(fn)); }
  bool onNetworkThread() const override { return loop_->onThread(); }
  void shutdown() override;
  size_t activeClients() const override { return loop_->activeClients(); }

  Loop& loop() override { return *loop_; }
  bool postLoop(uint64_t id, std::function<void(Loop&)> fn) override;
  bool onLoopThread() const override { return loop_->onThread(); }

 private:
  std::shared_ptr<Loop> loop_;
  std::mutex joinMu_;
  std::thread thread_;
};

// The RuntimeImpl behind a Runtime created by Runtime::create() or
// HostRuntime::create(); throws std::invalid_argument for any other implementation.
RuntimeImpl& runtimeImpl(Runtime& rt);

}  // namespace diarkis
