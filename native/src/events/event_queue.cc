#include "events/event_queue.h"

#include <algorithm>
#include <utility>

namespace diarkis {

size_t EventQueue::costOf(const Event& ev) {
  return ev.payload.size() + ev.message.size() + ev.address.size() + ev.from.size();
}

bool EventQueue::push(uint64_t clientId, Event&& ev) {
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

void EventQueue::debit(uint64_t clientId, size_t cost) {
  bytes_ -= cost;
  auto it = clientBytes_.find(clientId);
  if (it == clientBytes_.end()) return;
  it->second -= std::min(it->second, cost);  // a zero entry stays (no node freed and remade per event)
}

size_t EventQueue::take(std::vector<QueuedEvent>& out, size_t max) {
  out.clear();
  std::lock_guard<std::mutex> lk(mu_);
  const size_t n = std::min(max, queue_.size());
  if (n == queue_.size()) {
    out.swap(queue_);  // the usual case: everything, capacity kept on both sides
  } else {
    out.insert(out.end(), std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
  }
  for (const QueuedEvent& q : out) debit(q.clientId, costOf(q.ev));
  taken_ += n;
  return queue_.size();
}

void EventQueue::close() {
  std::vector<QueuedEvent> doomed;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    doomed.swap(queue_);
    clientBytes_.clear();
    bytes_ = 0;
  }
}

void EventQueue::forget(uint64_t clientId) {
  std::vector<QueuedEvent> doomed;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lk(mu_);
  auto gone = std::stable_partition(queue_.begin(), queue_.end(),
                                    [&](const QueuedEvent& q) { return q.clientId != clientId; });
  for (auto it = gone; it != queue_.end(); ++it) {
    bytes_ -= costOf(it->ev);
    doomed.push_back(std::move(*it));
  }
  queue_.erase(gone, queue_.end());
  clientBytes_.erase(clientId);
}

bool EventQueue::empty() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.empty();
}

size_t EventQueue::bytesFor(uint64_t clientId) const {
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
