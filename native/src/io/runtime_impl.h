// Runtime (runtime.h) over a Loop. The Loop is shared by this facade and the
// network thread, so that even a Runtime destroyed from its own network thread
// (a documented misuse) leaves the thread a live Loop to unwind into.
#pragma once
#include <memory>
#include <mutex>
#include <thread>

#include "diarkis/runtime.h"
#include "io/loop.h"

namespace diarkis {

class RuntimeImpl final : public Runtime {
 public:
  RuntimeImpl();
  ~RuntimeImpl() override;

  void post(std::function<void()> fn) override { loop_->post(std::move(fn)); }
  bool onNetworkThread() const override { return loop_->onThread(); }
  void shutdown() override;
  size_t activeClients() const override { return loop_->activeClients(); }

  Loop& loop() { return *loop_; }
  // Clients use this to post commands that run with the Loop (network thread).
  bool postLoop(std::function<void(Loop&)> fn);

 private:
  std::shared_ptr<Loop> loop_;
  std::mutex joinMu_;
  std::thread thread_;
};

// The RuntimeImpl behind a Runtime created by Runtime::create(); throws
// std::invalid_argument for any other implementation.
RuntimeImpl& runtimeImpl(Runtime& rt);

}  // namespace diarkis
