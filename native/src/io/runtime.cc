#include <chrono>
#include <stdexcept>

#include "io/runtime_impl.h"

namespace diarkis {

std::shared_ptr<Runtime> Runtime::create() { return std::make_shared<ThreadRuntime>(); }

double Runtime::nowMs() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

ThreadRuntime::ThreadRuntime() : loop_(std::make_shared<Loop>()) {
  thread_ = std::thread([loop = loop_] { loop->run(); });
}

ThreadRuntime::~ThreadRuntime() {
  if (onNetworkThread()) {
    // Misuse (runtime.h): the thread is still inside a callback. Let it unwind
    // into its own reference to the Loop and exit on its own.
    loop_->stop();
    std::lock_guard<std::mutex> lk(joinMu_);
    if (thread_.joinable()) thread_.detach();
    return;
  }
  shutdown();
}

void ThreadRuntime::shutdown() {
  loop_->stop();
  if (onNetworkThread()) return;  // misuse: cannot join ourselves; the thread exits after this iteration
  std::lock_guard<std::mutex> lk(joinMu_);
  if (thread_.joinable()) thread_.join();
}

bool ThreadRuntime::postLoop(uint64_t id, std::function<void(Loop&)> fn) {
  Loop* loop = loop_.get();  // the command only runs inside loop->run(), so it is alive
  return loop_->post([loop, id, fn = std::move(fn)] { loop->guard(id, [&] { fn(*loop); }); });
}

RuntimeImpl& runtimeImpl(Runtime& rt) {
  auto* impl = dynamic_cast<RuntimeImpl*>(&rt);
  if (!impl) throw std::invalid_argument("diarkis: Runtime not created by Runtime::create()");
  return *impl;
}

}  // namespace diarkis
