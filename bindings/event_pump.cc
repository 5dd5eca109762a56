#include "event_pump.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace diarkis_node {

void pumpCallJs(Napi::Env env, Napi::Function handler, EventPump* pump, void* /*data*/) {
  // env is null while Node tears the TSFN down: nothing may be touched then.
  if (env == nullptr || pump == nullptr) return;
  pump->deliver(env, handler);
}

std::shared_ptr<EventPump> EventPump::create(Napi::Env env, Napi::Function handler) {
  std::shared_ptr<EventPump> pump(new EventPump());
  // The TSFN's finalizer owns one reference, so the pump (the TSFN's context)
  // outlives every call Node can still make into pumpCallJs.
  auto* keepAlive = new std::shared_ptr<EventPump>(pump);
  pump->env_ = env;
  pump->tsfn_ = Tsfn::New(env, handler, "diarkis-event-pump", 0, 1, pump.get(), &EventPump::finalize,
                          keepAlive);
  pump->tsfn_.Unref(env);
  return pump;
}

void EventPump::finalize(Napi::Env /*env*/, std::shared_ptr<EventPump>* self, EventPump* /*context*/) {
  EventPump& pump = **self;
  pump.gate_.close();  // no thread may call the TSFN from here on
  pump.finalized_ = true;
  delete self;
}

void EventPump::post(int clientId, diarkis::Event&& ev) {
  const bool accepted = gate_.ifOpen([&] {
    const bool wasEmpty = queue_.empty();
    queue_.push_back(Item{clientId, std::move(ev)});
    if (wasEmpty) {
      ++signals_;
      tsfn_.NonBlockingCall();  // napi_closing during teardown is fine: the gate closes next
    }
  });
  if (!accepted) {
    std::lock_guard<std::mutex> lock(gate_.mutex());
    ++dropped_;
  }
}

void EventPump::addRef() {
  if (++refs_ == 1 && !released_ && !finalized_) tsfn_.Ref(env_);
}

void EventPump::dropRef() {
  if (refs_ == 0) return;
  if (--refs_ == 0 && !released_ && !finalized_) tsfn_.Unref(env_);
}

void EventPump::close() {
  gate_.close();
  if (!released_ && !finalized_) {
    released_ = true;
    tsfn_.Release();
  }
  {
    std::lock_guard<std::mutex> lock(gate_.mutex());
    queue_.clear();
  }
  pending_.clear();
  pendingPos_ = 0;
}

PumpStats EventPump::stats() {
  PumpStats s;
  s.batches = batches_;
  s.events = events_;
  s.maxBatch = maxBatch_;
  std::lock_guard<std::mutex> lock(gate_.mutex());
  s.signals = signals_;
  s.dropped = dropped_;
  s.queued = queue_.size() + (pending_.size() - pendingPos_);
  return s;
}

namespace {

// Strings an event carries into objs, in the order the JS side reads them.
template <typename Fn>
void forEachString(const diarkis::Event& ev, Fn&& fn) {
  switch (ev.type) {
    case diarkis::EventType::Disconnect:
    case diarkis::EventType::Error:
      fn(ev.message);
      break;
    case diarkis::EventType::Echo:
      fn(ev.address);
      break;
    case diarkis::EventType::Migrated:
      fn(ev.from);
      fn(ev.address);
      break;
    default:
      break;
  }
}

bool hasPayload(const diarkis::Event& ev) {
  return ev.type == diarkis::EventType::Response || ev.type == diarkis::EventType::Push;
}

double valueOf(const diarkis::Event& ev) {
  switch (ev.type) {
    case diarkis::EventType::Connect:
      return ev.reconnected ? 1 : 0;
    case diarkis::EventType::Disconnect:
    case diarkis::EventType::Error:
      return static_cast<double>(ev.code);
    case diarkis::EventType::Heartbeat:
    case diarkis::EventType::Echo:
    case diarkis::EventType::Migrated:
      return ev.rttMs;
    default:
      return 0;
  }
}

}  // namespace

void EventPump::deliver(Napi::Env env, Napi::Function handler) {
  if (released_ || finalized_) return;
  if (pendingPos_ >= pending_.size()) {
    pending_.clear();
    pendingPos_ = 0;
    std::lock_guard<std::mutex> lock(gate_.mutex());
    pending_.swap(queue_);  // queue_ is empty again: the next post signals
  }
  const size_t n = std::min(kMaxBatch, pending_.size() - pendingPos_);
  if (n == 0) return;
  const size_t begin = pendingPos_;
  const size_t end = begin + n;
  pendingPos_ = end;

  Napi::HandleScope scope(env);
  size_t slabBytes = 0;
  for (size_t i = begin; i < end; ++i) {
    const auto& ev = pending_[i].ev;
    if (hasPayload(ev) && ev.payload.size() <= kSlabPayloadMax) slabBytes += ev.payload.size();
  }
  auto meta = Napi::Float64Array::New(env, n * kStride);
  auto slab = Napi::Buffer<uint8_t>::New(env, slabBytes);  // V8-owned memory, not external
  auto objs = Napi::Array::New(env);
  double* m = meta.Data();
  uint8_t* slabData = slab.Data();
  size_t slabPos = 0;
  uint32_t objIndex = 0;

  for (size_t i = begin; i < end; ++i) {
    const Item& item = pending_[i];
    const diarkis::Event& ev = item.ev;
    double* row = m + (i - begin) * kStride;
    row[kClientId] = item.clientId;
    row[kType] = static_cast<double>(ev.type);
    row[kVer] = ev.ver;
    row[kCmd] = ev.cmd;
    row[kStatus] = ev.status;
    row[kValue] = valueOf(ev);
    row[kPayloadOffset] = -1;
    row[kPayloadLength] = -1;
    if (hasPayload(ev)) {
      const size_t len = ev.payload.size();
      row[kPayloadLength] = static_cast<double>(len);
      if (len <= kSlabPayloadMax) {
        if (len > 0) std::memcpy(slabData + slabPos, ev.payload.data(), len);
        row[kPayloadOffset] = static_cast<double>(slabPos);
        slabPos += len;
      } else {
        objs.Set(objIndex++, Napi::Buffer<uint8_t>::Copy(env, ev.payload.data(), len));
      }
    }
    forEachString(ev, [&](const std::string& s) { objs.Set(objIndex++, Napi::String::New(env, s)); });
    if (ev.type == diarkis::EventType::Disconnect && onDisconnect) onDisconnect(item.clientId);
  }
  // Free the delivered events' payloads now rather than at the next swap.
  for (size_t i = begin; i < end; ++i) diarkis::Bytes().swap(pending_[i].ev.payload);

  ++batches_;
  events_ += n;
  maxBatch_ = std::max<uint64_t>(maxBatch_, n);
  if (pendingPos_ < pending_.size()) tsfn_.NonBlockingCall();  // the rest, in a later turn

  try {
    handler.Call({meta, slab, objs});
  } catch (const Napi::Error& e) {
    // A throwing handler must not unwind through Node's TSFN trampoline: report it
    // like an exception thrown from any event callback.
    napi_fatal_exception(env, e.Value());
  }
}

}  // namespace diarkis_node
