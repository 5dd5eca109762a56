#include "event_pump.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace diarkis_node {

void EventPump::callJs(napi_env env, napi_value handler, void* context, void* /*data*/) {
  // env is null while Node tears the TSFN down: nothing may be touched then.
  if (env == nullptr || context == nullptr) return;
  static_cast<EventPump*>(context)->deliver(env, handler);
}

std::shared_ptr<EventPump> EventPump::create(Napi::Env env, Napi::Function handler) {
  std::shared_ptr<EventPump> pump(new EventPump());
  // The TSFN's finalizer owns one reference, so the pump (the TSFN's context)
  // outlives every call Node can still make into callJs.
  auto keepAlive = std::make_unique<std::shared_ptr<EventPump>>(pump);
  napi_value name = Napi::String::New(env, "diarkis-event-pump");
  napi_threadsafe_function tsfn = nullptr;
  const napi_status st = napi_create_threadsafe_function(env, handler, nullptr, name, 0, 1, keepAlive.get(),
                                                         &EventPump::finalize, pump.get(), &EventPump::callJs,
                                                         &tsfn);
  if (st != napi_ok) throw Napi::Error::New(env, "cannot create the event pump's thread-safe function");
  keepAlive.release();  // now owned by the TSFN's finalizer
  pump->env_ = env;
  pump->tsfn_ = tsfn;
  napi_unref_threadsafe_function(env, tsfn);
  return pump;
}

void EventPump::finalize(napi_env /*env*/, void* data, void* /*hint*/) {
  auto* self = static_cast<std::shared_ptr<EventPump>*>(data);
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
      // napi_closing during teardown is fine: the gate closes next.
      napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
    }
  });
  if (!accepted) {
    std::lock_guard<std::mutex> lock(gate_.mutex());
    ++dropped_;
  }
}

void EventPump::addRef() {
  if (++refs_ == 1 && !released_ && !finalized_) napi_ref_threadsafe_function(env_, tsfn_);
}

void EventPump::dropRef() {
  if (refs_ == 0) return;
  if (--refs_ == 0 && !released_ && !finalized_) napi_unref_threadsafe_function(env_, tsfn_);
}

void EventPump::close() {
  gate_.close();
  if (!released_ && !finalized_) {
    released_ = true;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
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

namespace {
// Closes a handle scope on every return path (raw Node-API: see the header).
class HandleScope {
 public:
  explicit HandleScope(napi_env env) : env_(env) { ok_ = napi_open_handle_scope(env, &scope_) == napi_ok; }
  ~HandleScope() {
    if (ok_) napi_close_handle_scope(env_, scope_);
  }
  HandleScope(const HandleScope&) = delete;
  HandleScope& operator=(const HandleScope&) = delete;
  bool ok() const { return ok_; }

 private:
  napi_env env_;
  napi_handle_scope scope_ = nullptr;
  bool ok_ = false;
};

napi_value copyBuffer(napi_env env, const uint8_t* data, size_t len) {
  void* out = nullptr;
  napi_value buf = nullptr;
  if (napi_create_buffer_copy(env, len, len > 0 ? data : nullptr, &out, &buf) != napi_ok) return nullptr;
  return buf;
}

napi_value makeString(napi_env env, const std::string& s) {
  napi_value v = nullptr;
  if (napi_create_string_utf8(env, s.data(), s.size(), &v) != napi_ok) return nullptr;
  return v;
}
}  // namespace

void EventPump::deliver(napi_env env, napi_value handler) {
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
  if (pendingPos_ < pending_.size()) {
    napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);  // the rest, in a later turn
  }

  HandleScope scope(env);
  if (!scope.ok()) return;  // the environment is going away: nothing to deliver to

  size_t slabBytes = 0;
  for (size_t i = begin; i < end; ++i) {
    const auto& ev = pending_[i].ev;
    if (hasPayload(ev) && ev.payload.size() <= kSlabPayloadMax) slabBytes += ev.payload.size();
  }
  // Every value below is in memory V8 owns (no external buffers: Electron's cage).
  napi_value metaBuffer = nullptr;
  void* metaData = nullptr;
  napi_value meta = nullptr;
  napi_value slab = nullptr;
  void* slabVoid = nullptr;
  napi_value objs = nullptr;
  if (napi_create_arraybuffer(env, n * kStride * sizeof(double), &metaData, &metaBuffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, n * kStride, metaBuffer, 0, &meta) != napi_ok ||
      napi_create_buffer(env, slabBytes, &slabVoid, &slab) != napi_ok || napi_create_array(env, &objs) != napi_ok) {
    return;
  }
  auto* m = static_cast<double*>(metaData);
  auto* slabData = static_cast<uint8_t*>(slabVoid);
  size_t slabPos = 0;
  uint32_t objIndex = 0;
  bool failed = false;
  auto push = [&](napi_value v) {
    if (v == nullptr || napi_set_element(env, objs, objIndex++, v) != napi_ok) failed = true;
  };

  for (size_t i = begin; i < end && !failed; ++i) {
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
        push(copyBuffer(env, ev.payload.data(), len));
      }
    }
    forEachString(ev, [&](const std::string& s) { push(makeString(env, s)); });
  }
  if (failed) return;
  for (size_t i = begin; i < end; ++i) {
    const Item& item = pending_[i];
    if (item.ev.type == diarkis::EventType::Disconnect && onDisconnect) onDisconnect(item.clientId);
    diarkis::Bytes().swap(pending_[i].ev.payload);  // free delivered payloads now, not at the next swap
  }

  ++batches_;
  events_ += n;
  maxBatch_ = std::max<uint64_t>(maxBatch_, n);

  napi_value undefined = nullptr;
  napi_get_undefined(env, &undefined);
  napi_value args[3] = {meta, slab, objs};
  // A throwing handler leaves its exception pending; Node reports it as uncaught
  // (like a throw from any event callback), or drops it while the env terminates.
  napi_call_function(env, undefined, handler, 3, args, nullptr);
}

}  // namespace diarkis_node
