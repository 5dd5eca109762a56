#include "event_pump.h"

#include <utility>

#include "batch.h"

namespace diarkis_node {

void EventPump::callJs(napi_env env, napi_value handler, void* context, void* /*data*/) {
  // env is null while Node tears the TSFN down: nothing may be touched then.
  if (env == nullptr || context == nullptr) return;
  auto* pump = static_cast<EventPump*>(context);
  // A C callback of Node's: no C++ exception may leave it (a bad_alloc in the
  // queue's take, a resume command, the batch's vectors).
  try {
    pump->deliver(env, handler);
  } catch (...) {
    pump->deliveryFailed();
    if (!pump->released_ && !pump->finalized_ && !pump->queue_.empty()) {
      napi_call_threadsafe_function(pump->tsfn_, nullptr, napi_tsfn_nonblocking);  // the rest, in a later turn
    }
  }
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
  pump.finalized_ = true;
  try {
    pump.gate_.close();  // no thread may call the TSFN from here on
    pump.queue_.close();
  } catch (...) {
    // A mutex that cannot be locked: nothing sensible is left to do in a finalizer.
  }
  delete self;
}

void EventPump::queued(bool wasEmpty) {
  if (!wasEmpty) return;  // not the first waiting (or closed: counted)
  gate_.ifOpen([&] {
    ++signals_;
    // napi_closing during teardown is fine: the gate closes next.
    napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
  });
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
  queue_.close();
  if (!released_ && !finalized_) {
    released_ = true;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
  }
  batch_.clear();
  batchMeta_.release(env_);
}

void EventPump::addStats(PumpStats& s) {
  fillStats(s);
  std::lock_guard<std::mutex> lock(gate_.mutex());
  s.signals += signals_;
}

void EventPump::deliver(napi_env env, napi_value handler) {
  if (released_ || finalized_) return;
  failIfAskedForTest();
  const size_t left = queue_.take(batch_, kMaxBatch);
  if (batch_.empty()) return;
  if (left > 0) {
    napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);  // the rest, in a later turn
  }
  HandleScope scope(env);
  if (!scope.ok()) return;  // the environment is going away: nothing to deliver to
  napi_value args[4];
  if (!buildBatch(env, batch_, batchMeta_, args)) return;
  afterBatch(batch_, onDisconnect);
  countBatch(batch_.size());
  napi_value undefined = nullptr;
  napi_get_undefined(env, &undefined);
  // A throwing handler leaves its exception pending; Node reports it as uncaught
  // (like a throw from any event callback), or drops it while the env terminates.
  napi_call_function(env, undefined, handler, 4, args, nullptr);
}

}  // namespace diarkis_node
