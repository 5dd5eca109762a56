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
  Account& acc = account(clientId);
  acc.bytes += cost;
  if (acc.backlog) acc.backlog->add(cost);
  bytes_ += cost;
  ++pushed_;
  return wasEmpty;
}

PacketPost EventQueue::pushPacket(uint64_t clientId, const PacketHeader& h, size_t bound, PacketFill fill,
                                  void* ctx, DropReason& reason, bool& wasEmpty) {
  wasEmpty = false;
  if (bound > kArenaPacketMax) return PacketPost::Declined;
  std::lock_guard<std::mutex> lk(mu_);
  if (closed_) {
    ++dropped_;
    return PacketPost::Dropped;
  }
  const size_t offset = arena_.size();
  bool filled = false;
  try {
    filled = fill(ctx, arena_, reason);
  } catch (...) {
    arena_.resize(offset);
    throw;
  }
  if (!filled) {
    arena_.resize(offset);
    return PacketPost::Failed;
  }
  const size_t len = arena_.size() - offset;
  wasEmpty = queue_.empty();
  QueuedEvent& q = queue_.emplace_back();
  q.clientId = clientId;
  q.ev.type = h.type;
  q.ev.ver = h.ver;
  q.ev.cmd = h.cmd;
  q.ev.status = h.status;
  q.inArena = true;
  q.arenaOffset = offset;
  q.arenaLength = len;
  Account& acc = account(clientId);
  acc.bytes += len;
  if (acc.backlog) acc.backlog->add(len);
  bytes_ += len;
  ++pushed_;
  return PacketPost::Queued;
}

void EventQueue::debit(uint64_t clientId, size_t cost) {
  bytes_ -= cost;
  Account* acc = nullptr;
  if (cached_ != nullptr && cachedId_ == clientId) {
    acc = cached_;
  } else {
    auto it = clients_.find(clientId);
    if (it == clients_.end()) return;
    acc = &it->second;
  }
  acc->bytes -= std::min(acc->bytes, cost);
  if (!acc->backlog) {
    if (acc->bytes == 0) erase(clientId);  // an untracked client: nothing to keep
    return;
  }
  // A tracked client's zero entry stays (no node freed and remade per event).
  if (acc->backlog->sub(cost)) resumes_.push_back(acc->backlog);
}

EventQueue::Account& EventQueue::account(uint64_t clientId) {
  if (cached_ == nullptr || cachedId_ != clientId) {
    cached_ = &clients_[clientId];  // unordered_map nodes stay put until erased
    cachedId_ = clientId;
  }
  return *cached_;
}

void EventQueue::erase(uint64_t clientId) {
  clients_.erase(clientId);
  if (cachedId_ == clientId) cached_ = nullptr;
}

void EventQueue::untrack(uint64_t clientId) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = clients_.find(clientId);
  if (it == clients_.end()) return;
  if (it->second.backlog) {
    it->second.backlog->disarm();
    it->second.backlog->sub(it->second.bytes);
  }
  if (it->second.bytes == 0) {
    erase(clientId);
  } else {
    it->second.backlog.reset();
  }
}

void EventQueue::track(uint64_t clientId, std::shared_ptr<ReceiveBacklog> backlog) {
  std::lock_guard<std::mutex> lk(mu_);
  if (closed_) return;
  Account& acc = account(clientId);
  if (backlog) backlog->add(acc.bytes);
  acc.backlog = std::move(backlog);
}

size_t EventQueue::take(std::vector<QueuedEvent>& out, size_t max) { return takeWith(out, nullptr, max); }

size_t EventQueue::take(std::vector<QueuedEvent>& out, Bytes& arena, size_t max) { return takeWith(out, &arena, max); }

size_t EventQueue::takeWith(std::vector<QueuedEvent>& out, Bytes* arena, size_t max) {
  out.clear();
  if (arena != nullptr) arena->clear();
  std::vector<std::shared_ptr<ReceiveBacklog>> resumes;
  size_t left = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    left = takeLocked(out, arena, max);
    resumes.swap(resumes_);
  }
  // Outside the lock: a resume may run the client's command at once (host loop),
  // and that may push.
  for (const auto& b : resumes) {
    if (b->resume) b->resume();
  }
  return left;
}

namespace {

// Packets' payloads out of the arena into their own buffers (a take without an arena).
void materialize(std::vector<QueuedEvent>& items, const Bytes& arena) {
  for (QueuedEvent& q : items) {
    if (!q.inArena) continue;
    const uint8_t* p = arena.data() + q.arenaOffset;
    q.ev.payload.assign(p, p + q.arenaLength);
    q.inArena = false;
  }
}

}  // namespace

size_t EventQueue::takeLocked(std::vector<QueuedEvent>& out, Bytes* arena, size_t max) {
  const size_t n = std::min(max, queue_.size());
  if (n == queue_.size()) {
    out.swap(queue_);  // the usual case: everything, capacity kept on both sides
    if (arena != nullptr) {
      arena->swap(arena_);
    } else {
      materialize(out, arena_);
    }
    arena_.clear();
  } else {
    out.insert(out.end(), std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
    // The taken packets' payloads are the arena's prefix (packets are appended in order).
    size_t cut = 0;
    for (const QueuedEvent& q : out) {
      if (q.inArena) cut = q.arenaOffset + q.arenaLength;
    }
    if (arena != nullptr) {
      arena->assign(arena_.begin(), arena_.begin() + static_cast<std::ptrdiff_t>(cut));
    } else {
      materialize(out, arena_);
    }
    arena_.erase(arena_.begin(), arena_.begin() + static_cast<std::ptrdiff_t>(cut));
    for (QueuedEvent& q : queue_) {
      if (q.inArena) q.arenaOffset -= cut;
    }
  }
  for (const QueuedEvent& q : out) debit(q.clientId, costOf(q));
  taken_ += n;
  return queue_.size();
}

void EventQueue::close() {
  std::vector<QueuedEvent> doomed;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    doomed.swap(queue_);
    Bytes().swap(arena_);
    for (auto& [id, acc] : clients_) {
      if (acc.backlog) acc.backlog->sub(acc.bytes);
    }
    clients_.clear();
    cached_ = nullptr;
    bytes_ = 0;
  }
}

void EventQueue::forget(uint64_t clientId) {
  std::vector<QueuedEvent> doomed;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lk(mu_);
  auto gone = std::stable_partition(queue_.begin(), queue_.end(),
                                    [&](const QueuedEvent& q) { return q.clientId != clientId; });
  for (auto it = gone; it != queue_.end(); ++it) {
    bytes_ -= costOf(*it);  // a packet's arena bytes stay until the next take: garbage nobody reads
    doomed.push_back(std::move(*it));
  }
  queue_.erase(gone, queue_.end());
  auto acc = clients_.find(clientId);
  if (acc != clients_.end()) {
    if (acc->second.backlog) acc->second.backlog->sub(acc->second.bytes);  // a released client: no resume
    erase(clientId);
  }
}

bool EventQueue::empty() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.empty();
}

size_t EventQueue::bytesFor(uint64_t clientId) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = clients_.find(clientId);
  return it == clients_.end() ? 0 : it->second.bytes;
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
