#include "context.h"

#include <chrono>
#include <climits>

namespace diarkis_c {

void Sink::post(int id, diarkis::Event&& ev) {
  if (!queue.push(id, std::move(ev))) return;  // not the empty -> non-empty edge: the poller knows
  std::lock_guard<std::mutex> lk(mu_);        // pairs with wait()'s check, so no wakeup is lost
  cv_.notify_one();
}

void Sink::wake() {
  std::lock_guard<std::mutex> lk(mu_);
  woken_ = true;
  cv_.notify_one();
}

void Sink::wait(int timeoutMs) {
  std::unique_lock<std::mutex> lk(mu_);
  auto ready = [this] { return woken_ || !queue.empty(); };
  if (timeoutMs < 0) {
    cv_.wait(lk, ready);
  } else {
    cv_.wait_for(lk, std::chrono::milliseconds(timeoutMs), ready);
  }
  woken_ = false;  // one wake ends one wait
}

}  // namespace diarkis_c

dk_context::dk_context() : runtime(diarkis::Runtime::create()), sink(std::make_shared<diarkis_c::Sink>()) {}

dk_context::~dk_context() {
  std::unordered_map<int, std::shared_ptr<diarkis_c::Client>> clients;
  {
    std::lock_guard<std::mutex> lk(mu_);
    clients.swap(clients_);
  }
  clients.clear();  // each Detach()es: no callback after this
  runtime->shutdown();
  sink->queue.close();
}

int dk_context::add(std::shared_ptr<diarkis_c::Client> client) {
  std::lock_guard<std::mutex> lk(mu_);
  int id = next_;
  while (clients_.count(id) != 0) id = id == INT_MAX ? 1 : id + 1;  // only after 2^31 - 1 creations
  next_ = id == INT_MAX ? 1 : id + 1;
  clients_.emplace(id, std::move(client));
  return id;
}

std::shared_ptr<diarkis_c::Client> dk_context::find(int id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : it->second;
}

std::shared_ptr<diarkis_c::Client> dk_context::remove(int id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = clients_.find(id);
  if (it == clients_.end()) return nullptr;
  auto client = std::move(it->second);
  clients_.erase(it);
  return client;
}
