#include "diarkis/callback_queue.h"

#include <chrono>

namespace diarkis {

void CallbackQueue::Post(std::function<void()> batch) {
  std::lock_guard<std::mutex> lk(mu_);
  batches_.push_back(std::move(batch));
  if (batches_.size() == 1) cv_.notify_one();
}

void CallbackQueue::Wake() {
  std::lock_guard<std::mutex> lk(mu_);
  woken_ = true;
  cv_.notify_one();
}

size_t CallbackQueue::Pending() const {
  std::lock_guard<std::mutex> lk(mu_);
  return batches_.size();
}

size_t CallbackQueue::Poll(int timeoutMs, size_t maxBatches) {
  size_t ran = 0;
  while (ran < maxBatches) {
    std::function<void()> batch;
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (ran == 0 && timeoutMs != 0) {
        auto ready = [this] { return woken_ || !batches_.empty(); };
        if (timeoutMs < 0) cv_.wait(lk, ready);
        else cv_.wait_for(lk, std::chrono::milliseconds(timeoutMs), ready);
        woken_ = false;
      }
      if (batches_.empty()) break;
      batch = std::move(batches_.front());
      batches_.pop_front();
    }
    batch();  // outside the lock: a callback may post, poll stats or detach
    ++ran;
  }
  return ran;
}

}  // namespace diarkis
