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
  const bool wasEmpty = q_.rows.empty();
  QueueRow& r = q_.rows.emplace_back();
  r.clientId = clientId;
  r.at = q_.events.size();
  r.type = ev.type;
  q_.events.push_back(std::move(ev));
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
  Bytes& arena = q_.arena;
  const size_t offset = arena.size();
  bool filled = false;
  try {
    filled = fill(ctx, arena, reason);
  } catch (...) {
    arena.resize(offset);
    throw;
  }
  if (!filled) {
    arena.resize(offset);
    return PacketPost::Failed;
  }
  const size_t len = arena.size() - offset;
  wasEmpty = q_.rows.empty();
  QueueRow& r = q_.rows.emplace_back();
  r.clientId = clientId;
  r.at = offset;
  r.length = static_cast<uint32_t>(len);  // at most bound <= kArenaPacketMax
  r.type = h.type;
  r.ver = h.ver;
  r.cmd = h.cmd;
  r.status = h.status;
  r.packet = true;
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

size_t EventQueue::take(QueueBatch& out, size_t max) {
  out.clear();
  std::vector<std::shared_ptr<ReceiveBacklog>> resumes;
  size_t left = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    left = takeLocked(out, max);
    resumes.swap(resumes_);
  }
  // Outside the lock: a resume may run the client's command at once (host loop),
  // and that may push.
  for (const auto& b : resumes) {
    if (b->resume) b->resume();
  }
  return left;
}

size_t EventQueue::take(std::vector<QueuedEvent>& out, size_t max) {
  out.clear();
  const size_t left = take(polled_, max);
  out.reserve(polled_.size());
  for (const QueueRow& r : polled_.rows) {
    QueuedEvent& q = out.emplace_back();
    q.clientId = r.clientId;
    if (!r.packet) {
      q.ev = std::move(polled_.event(r));
      continue;
    }
    q.ev.type = r.type;
    q.ev.ver = r.ver;
    q.ev.cmd = r.cmd;
    q.ev.status = r.status;
    q.ev.payload.assign(polled_.packetData(r), polled_.packetData(r) + r.length);
  }
  polled_.clear();
  return left;
}

size_t EventQueue::takeLocked(QueueBatch& out, size_t max) {
  const size_t n = std::min(max, q_.rows.size());
  if (n == q_.rows.size()) {
    // The usual case: everything, capacity kept on both sides.
    std::swap(out.rows, q_.rows);
    std::swap(out.events, q_.events);
    std::swap(out.arena, q_.arena);
  } else {
    // A prefix of the rows points into a prefix of the events and of the arena
    // (both are appended in row order; forgotten rows' leftovers in between go too).
    const auto split = q_.rows.begin() + static_cast<std::ptrdiff_t>(n);
    out.rows.assign(q_.rows.begin(), split);
    q_.rows.erase(q_.rows.begin(), split);
    size_t arenaCut = 0;
    size_t eventCut = 0;
    for (const QueueRow& r : out.rows) {
      if (r.packet) {
        arenaCut = static_cast<size_t>(r.at) + r.length;
      } else {
        eventCut = static_cast<size_t>(r.at) + 1;
      }
    }
    const auto eventSplit = q_.events.begin() + static_cast<std::ptrdiff_t>(eventCut);
    out.events.assign(std::make_move_iterator(q_.events.begin()), std::make_move_iterator(eventSplit));
    q_.events.erase(q_.events.begin(), eventSplit);
    const auto arenaSplit = q_.arena.begin() + static_cast<std::ptrdiff_t>(arenaCut);
    out.arena.assign(q_.arena.begin(), arenaSplit);
    q_.arena.erase(q_.arena.begin(), arenaSplit);
    for (QueueRow& r : q_.rows) r.at -= r.packet ? arenaCut : eventCut;
  }
  for (const QueueRow& r : out.rows) debit(r.clientId, r.packet ? r.length : costOf(out.event(r)));
  taken_ += n;
  return q_.rows.size();
}

void EventQueue::close() {
  QueueBatch doomed;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    std::swap(doomed, q_);
    for (auto& [id, acc] : clients_) {
      if (acc.backlog) acc.backlog->sub(acc.bytes);
    }
    clients_.clear();
    cached_ = nullptr;
    bytes_ = 0;
  }
}

void EventQueue::forget(uint64_t clientId) {
  std::vector<Event> doomed;  // destroyed after the lock is released
  std::lock_guard<std::mutex> lk(mu_);
  auto gone = std::stable_partition(q_.rows.begin(), q_.rows.end(),
                                    [&](const QueueRow& r) { return r.clientId != clientId; });
  for (auto it = gone; it != q_.rows.end(); ++it) {
    bytes_ -= costOf(*it);
    // Its arena bytes and its event's slot stay until the take that passes them:
    // garbage nobody reads (the other rows keep their offsets and indexes).
    if (!it->packet) doomed.push_back(std::move(q_.event(*it)));
  }
  q_.rows.erase(gone, q_.rows.end());
  auto acc = clients_.find(clientId);
  if (acc != clients_.end()) {
    if (acc->second.backlog) acc->second.backlog->sub(acc->second.bytes);  // a released client: no resume
    erase(clientId);
  }
}

bool EventQueue::empty() const {
  std::lock_guard<std::mutex> lk(mu_);
  return q_.rows.empty();
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
  s.queued = q_.rows.size();
  s.bytes = bytes_;
  return s;
}

}  // namespace diarkis
