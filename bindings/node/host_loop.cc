#include "host_loop.h"

#include <cmath>
#include <exception>
#include <limits>
#include <utility>

#include "batch.h"

namespace diarkis_node {

struct HostLoop::Poll {
  uv_poll_t handle{};
  HostLoop* owner = nullptr;
  uint64_t key = 0;
};

namespace {

// A uv callback must never let a C++ exception reach libuv (a C library).
template <typename Fn>
void guarded(Fn&& fn) noexcept {
  try {
    fn();
  } catch (...) {
    // Nothing sensible to do on a foreign stack; the sessions report their own failures.
  }
}

void throwNapi(napi_env env, const char* message) {
  napi_throw_error(env, "network-error", message);
}

}  // namespace

HostLoop::HostLoop(napi_env env) : env_(env) {}

// The Node-API references are released in close(), inside a cleanup hook while
// the environment is whole: by the time a destructor runs, Node may have freed them.
HostLoop::~HostLoop() = default;

std::shared_ptr<HostLoop> HostLoop::create(napi_env env, napi_value handler) {
  std::shared_ptr<HostLoop> host(new HostLoop(env));
  if (!host->initHandles(handler)) {
    throwNapi(env, "cannot set up the host-loop driver on this environment's event loop");
    return nullptr;
  }
  host->self_ = host;
  host->runtime_ = diarkis::HostRuntime::create(host.get());
  return host;
}

bool HostLoop::initHandles(napi_value handler) {
  if (napi_get_uv_event_loop(env_, &loop_) != napi_ok || loop_ == nullptr) return false;
  napi_value resource = nullptr;
  napi_value name = nullptr;
  if (napi_create_reference(env_, handler, 1, &handler_) != napi_ok ||
      napi_create_object(env_, &resource) != napi_ok || napi_create_reference(env_, resource, 1, &resource_) != napi_ok ||
      napi_create_string_utf8(env_, "diarkis-host-loop", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env_, resource, name, &asyncContext_) != napi_ok) {
    return false;
  }
  if (napi_add_async_cleanup_hook(env_, &HostLoop::onCleanup, this, &cleanupHandle_) != napi_ok) return false;
  uv_timer_init(loop_, &timer_);
  uv_prepare_init(loop_, &prepare_);
  uv_check_init(loop_, &check_);
  uv_async_init(loop_, &keepAlive_, nullptr);  // never sent: it only holds the loop open
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&timer_), reinterpret_cast<uv_handle_t*>(&prepare_),
                         reinterpret_cast<uv_handle_t*>(&check_), reinterpret_cast<uv_handle_t*>(&keepAlive_)}) {
    h->data = this;
    uv_unref(h);
    ++openHandles_;
  }
  uv_check_start(&check_, &HostLoop::onCheck);
  return true;
}

// ---- HostIo ----

bool HostLoop::watch(diarkis::SocketHandle fd, uint64_t key, bool wantWrite) {
  if (tornDown_ || polls_.count(fd) != 0) return false;
  auto* p = new Poll();
  p->owner = this;
  p->key = key;
  if (uv_poll_init_socket(loop_, &p->handle, static_cast<uv_os_sock_t>(fd)) != 0) {
    delete p;
    return false;
  }
  p->handle.data = p;
  ++openHandles_;
  uv_unref(reinterpret_cast<uv_handle_t*>(&p->handle));
  polls_[fd] = p;
  if (uv_poll_start(&p->handle, UV_READABLE | (wantWrite ? UV_WRITABLE : 0), &HostLoop::onPoll) != 0) {
    unwatch(fd);
    return false;
  }
  return true;
}

bool HostLoop::rewatch(diarkis::SocketHandle fd, uint64_t key, bool wantWrite) {
  auto it = polls_.find(fd);
  if (it == polls_.end()) return false;
  it->second->key = key;
  return uv_poll_start(&it->second->handle, UV_READABLE | (wantWrite ? UV_WRITABLE : 0), &HostLoop::onPoll) == 0;
}

void HostLoop::unwatch(diarkis::SocketHandle fd) {
  auto it = polls_.find(fd);
  if (it == polls_.end()) return;
  Poll* p = it->second;
  polls_.erase(it);
  // uv_close stops the watcher at once (before the caller closes the fd, so a
  // reused fd number is never unwatched by a late stop); the memory goes in the callback.
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &HostLoop::onPollClosed);
}

void HostLoop::setTimer(double deadlineMs) {
  if (tornDown_) return;
  if (std::isinf(deadlineMs)) {
    uv_timer_stop(&timer_);
    return;
  }
  // At least 1 ms: libuv before 1.47 (Node 20 ships 1.46) runs a timer re-armed
  // with 0 inside its own callback again in the same timers phase, so a deadline
  // that is always already due (a pass slower than the timers it serves) kept
  // Node's loop from its poll phase and JavaScript for seconds.
  const double wait = std::ceil(deadlineMs - diarkis::Runtime::nowMs());
  const uint64_t ms = wait <= 1 ? 1 : static_cast<uint64_t>(wait);
  // Same due time as the armed timer (libuv counts whole ms from the loop's cached now):
  // nothing to do. Deadlines move by fractions of a ms with most sends and acknowledgements.
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&timer_)) && uv_timer_get_due_in(&timer_) == ms) return;
  uv_timer_start(&timer_, &HostLoop::onTimer, ms, 0);
}

void HostLoop::requestFlush() {
  if (inCallback_ || tornDown_ || prepareActive_) return;  // a callback in progress drains before it returns
  prepareActive_ = true;
  uv_prepare_start(&prepare_, &HostLoop::onPrepare);
}

// ---- EventSink ----

void HostLoop::queued(bool /*wasEmpty*/) { requestFlush(); }

// ---- liveness ----

void HostLoop::addRef() {
  if (++refs_ == 1 && !tornDown_) uv_ref(reinterpret_cast<uv_handle_t*>(&keepAlive_));
}

void HostLoop::dropRef() {
  if (refs_ == 0) return;
  if (--refs_ == 0 && !tornDown_) uv_unref(reinterpret_cast<uv_handle_t*>(&keepAlive_));
}

void HostLoop::close() {
  if (closed_) return;
  closed_ = true;
  queue_.close();
  batch_.clear();
  batchMeta_.release(env_);
  if (handler_) napi_delete_reference(env_, handler_);
  if (resource_) napi_delete_reference(env_, resource_);
  if (asyncContext_) napi_async_destroy(env_, asyncContext_);
  handler_ = resource_ = nullptr;
  asyncContext_ = nullptr;
}

void HostLoop::addStats(PumpStats& s) { fillStats(s); }

void HostLoop::timerStormForTest(int passes) {
  stormLeft_ = passes;
  stormRuns_ = 0;
  if (passes > 0) setTimer(diarkis::Runtime::nowMs() - 5);
}

// ---- one turn ----

void HostLoop::deliver() {
  if (closed_) return;
  failIfAskedForTest();
  queue_.take(batch_, kMaxBatch);
  if (batch_.empty()) return;
  HandleScope scope(env_);
  if (!scope.ok()) return;  // the environment is going away
  napi_value args[4];
  napi_value handler = nullptr;
  napi_value resource = nullptr;
  if (napi_get_reference_value(env_, handler_, &handler) != napi_ok || handler == nullptr ||
      napi_get_reference_value(env_, resource_, &resource) != napi_ok || !buildBatch(env_, batch_, batchMeta_, args)) {
    return;
  }
  afterBatch(batch_, onDisconnect);
  countBatch(batch_.size());
  // make_callback: the microtasks (promise continuations) run before it returns.
  const napi_status st = napi_make_callback(env_, asyncContext_, resource, handler, 4, args, nullptr);
  if (st == napi_pending_exception) {
    // A throwing listener: report it like a throw from any event callback.
    napi_value err = nullptr;
    napi_valuetype type = napi_undefined;
    if (napi_get_and_clear_last_exception(env_, &err) == napi_ok && err != nullptr &&
        napi_typeof(env_, err, &type) == napi_ok && type != napi_undefined) {
      napi_fatal_exception(env_, err);
    }
  }
}

void HostLoop::drain() {
  // Bounded: a handler that keeps sending from inside its own events cannot spin
  // the loop; what is left is picked up by the prepare phase.
  inCallback_ = true;
  try {
    for (int round = 0; round < 4 && !tornDown_; ++round) {
      runtime_->flush();
      if (queue_.empty() || closed_) break;
      deliver();
    }
    if (!tornDown_) runtime_->flush();
  } catch (...) {
    // Caught here, not by the uv callback's guard: inCallback_ must not stay set
    // (no later send would be written) and what is queued goes next turn.
    deliveryFailed();
  }
  inCallback_ = false;
  if (!queue_.empty() && !closed_) requestFlush();
}

void HostLoop::onPoll(uv_poll_t* h, int status, int events) {
  auto* p = static_cast<Poll*>(h->data);
  HostLoop* self = p->owner;
  guarded([&] {
    if (self->tornDown_) return;
    const bool failed = status < 0;
    self->inCallback_ = true;  // the check phase of this same turn delivers and writes
    self->runtime_->onReady(p->key, failed || (events & UV_READABLE) != 0, (events & UV_WRITABLE) != 0, failed);
    self->pendingInput_ = true;
  });
  self->inCallback_ = false;  // also after a caught exception: later sends must still be written
}

void HostLoop::onTimer(uv_timer_t* h) {
  auto* self = static_cast<HostLoop*>(h->data);
  guarded([&] {
    if (self->tornDown_) return;
    self->inCallback_ = true;
    self->runtime_->onTimer();
    self->drain();
    if (self->stormLeft_ > 0) {
      --self->stormLeft_;
      ++self->stormRuns_;
      if (self->stormLeft_ > 0) self->setTimer(diarkis::Runtime::nowMs() - 5);
    }
  });
  self->inCallback_ = false;
}

void HostLoop::onPrepare(uv_prepare_t* h) {
  auto* self = static_cast<HostLoop*>(h->data);
  guarded([&] {
    uv_prepare_stop(&self->prepare_);
    self->prepareActive_ = false;
    if (self->tornDown_) return;
    self->drain();
  });
}

void HostLoop::onCheck(uv_check_t* h) {
  auto* self = static_cast<HostLoop*>(h->data);
  guarded([&] {
    if (self->tornDown_ || (!self->pendingInput_ && self->queue_.empty())) return;
    self->pendingInput_ = false;
    self->drain();
  });
}

// ---- teardown ----

void HostLoop::onPollClosed(uv_handle_t* h) {
  auto* poll = static_cast<Poll*>(h->data);
  HostLoop* owner = poll->owner;
  delete poll;
  owner->handleClosed();
}

void HostLoop::onCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* self = static_cast<HostLoop*>(arg);
  guarded([&] {
    self->cleanupHandle_ = handle;
    self->teardown();
  });
}

void HostLoop::teardown() {
  if (tornDown_) return;
  close();
  runtime_->shutdown();  // abandons every client: their sockets are unwatched (uv_close) and closed
  tornDown_ = true;
  for (auto& [fd, p] : polls_) {  // none should be left; close any anyway
    uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), &HostLoop::onPollClosed);
  }
  polls_.clear();
  for (uv_handle_t* h : {reinterpret_cast<uv_handle_t*>(&timer_), reinterpret_cast<uv_handle_t*>(&prepare_),
                         reinterpret_cast<uv_handle_t*>(&check_), reinterpret_cast<uv_handle_t*>(&keepAlive_)}) {
    uv_close(h, [](uv_handle_t* closing) { static_cast<HostLoop*>(closing->data)->handleClosed(); });
  }
}

void HostLoop::handleClosed() {
  if (--openHandles_ > 0 || !tornDown_) return;
  // Every handle is closed: Node may go on tearing the environment down.
  if (cleanupHandle_) napi_remove_async_cleanup_hook(cleanupHandle_);
  cleanupHandle_ = nullptr;
  std::shared_ptr<HostLoop> last = std::move(self_);  // may destroy *this when it goes
}

}  // namespace diarkis_node
