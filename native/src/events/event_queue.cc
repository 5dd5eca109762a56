#include "events/event_queue.h"

#include <algorithm>
#include <utility>

namespace diarkis {

size_t EventQueue::costOf(const Event& ev) {
  return ev.payload.size() + ev.message.size() + ev.address.size() + ev.from.size();
}

bool EventQueue::push(int clientId, Event&& ev) {
  const size_t cost = costOf(ev);
  std::lock_guard<std::mutex> lk(mu_);
  if (closed_) {
    ++dropped_;
    return false;
  }
  const bool wasEmpty = queue_.empty();
  queue_.push_back(QueuedEvent{clientId, std::move(ev)});
  clientBytes_[clientId] += cost;
  bytes_ += cost;
  ++pushed_;
  return wasEmpty;
}

void EventQueue::debit(int clientId, size_t cost) {
  bytes_ -= cost;
  auto it = clientBytes_.find(clientId);
  if (it == clientBytes_.end()) return;
  it->second -= std::min(it->second, cost);
  if (it->second == 0) clientBytes_.erase(it);
}

size_t EventQueue::take(std::vector<QueuedEvent>& out, size_t max) {
  out.clear();
  std::lock_guard<std::mutex> lk(mu_);
  const size_t n = std::min(max, queue_.size());
  for (size_t i = 0; i < n; ++i) {
    QueuedEvent& q = queue_.front();
    debit(q.clientId, costOf(q.ev));
    out.push_back(std::move(q));
    queue_.pop_front();
  }
  taken_ += n;
  return queue_.size();
}

void EventQueue::close() {
  std::deque<QueuedEvent> doomed;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    doomed.swap(queue_);
    clientBytes_.clear();
    bytes_ = 0;
  }
}

void EventQueue::forget(int clientId) {
  std::deque<QueuedEvent> doomed;
  std::lock_guard<std::mutex> lk(mu_);
  if (clientBytes_.find(clientId) == clientBytes_.end() &&
      std::none_of(queue_.begin(), queue_.end(), [&](const QueuedEvent& q) { return q.clientId == clientId; })) {
    return;
  }
  std::deque<QueuedEvent> keep;
  for (QueuedEvent& q : queue_) {
    if (q.clientId == clientId) {
      debit(clientId, costOf(q.ev));
      doomed.push_back(std::move(q));
    } else {
      keep.push_back(std::move(q));
    }
  }
  queue_.swap(keep);
}

bool EventQueue::empty() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.empty();
}

size_t EventQueue::bytesFor(int clientId) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = clientBytes_.find(clientId);
  return it == clientBytes_.end() ? 0 : it->second;
}

EventQueueStats EventQueue::stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  EventQueueStats s;
  s.pushed = pushed_;
  s.taken = taken_;
  s.dropped = dropped_;
  s.queued = queue_.size();
  s.bytes = bytes_;
  return s;
}

}  // namespace diarkis
