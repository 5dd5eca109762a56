// Module init, the per-environment state and the process-wide runtime.
#include "napi_include.h"

#include <exception>
#include <mutex>
#include <string>

#include "addon_state.h"
#include "args.h"
#include "send_batch.h"
#include "tcp_client_wrap.h"
#include "udp_client_wrap.h"

namespace diarkis_node {

// ---- RuntimeLease: the process-wide runtime, shared by every environment ----

namespace {
struct RuntimeRegistry {
  std::mutex mu;
  std::shared_ptr<diarkis::Runtime> runtime;
  int leases = 0;
};
// Deliberately leaked: a static destructor at exit() must not join a network thread
// that may still be running (the environments' cleanup hooks are what shut it down).
RuntimeRegistry& registry() {
  static auto* r = new RuntimeRegistry();
  return *r;
}
}  // namespace

RuntimeLease::RuntimeLease() {
  RuntimeRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  if (!r.runtime) r.runtime = diarkis::Runtime::create();  // may throw: no lease taken
  ++r.leases;
  runtime_ = r.runtime;
}

void RuntimeLease::release() {
  if (!runtime_) return;
  std::shared_ptr<diarkis::Runtime> last;
  {
    RuntimeRegistry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    if (--r.leases == 0) last = std::move(r.runtime);
  }
  runtime_.reset();
  // Outside the registry lock: shutdown joins the network thread.
  if (last) last->shutdown();
}

int RuntimeLease::leases() {
  RuntimeRegistry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  return r.leases;
}

// ---- AddonState ----

AddonState::AddonState(Napi::Env env) { hook_.emplace(env, this); }

AddonState::~AddonState() {
  cleanup();
  hook_.reset();  // removes the hook if it has not run
}

AddonState& AddonState::of(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

void AddonState::cleanup() {
  if (cleanedUp_) return;
  cleanedUp_ = true;
  // 1. No event may reach the TSFN from now on.
  if (pump_) {
    pump_->onDisconnect = nullptr;
    pump_->close();
  }
  if (host_) {
    host_->onDisconnect = nullptr;
    host_->close();
  }
  // 2. Destroy the clients: each Detach()es (blocks until the network thread lets go).
  clients_.clear();
  // 3. The last environment to go shuts the runtime down.
  if (lease_) lease_->release();
  handler_.Reset();
}

EventPump& AddonState::pump(Napi::Env env) {
  if (cleanedUp_) throwCodeError(env, diarkis::ErrorCode::NotConnected, "the environment is shutting down");
  if (!pump_) throwCodeError(env, diarkis::ErrorCode::InvalidArgument, "setEventHandler() was not called");
  return *pump_;
}

void AddonState::setPump(std::shared_ptr<EventPump> pump, Napi::Function handler) {
  pump_ = std::move(pump);
  pump_->onDisconnect = [this](uint64_t id) {
    if (ClientEntry* e = find(id)) setOpen(*e, false);
  };
  handler_ = Napi::Persistent(handler);
}

const std::shared_ptr<HostLoop>& AddonState::host(Napi::Env env) {
  pump(env);  // the same checks: a handler, an environment not going away
  if (!host_) {
    host_ = HostLoop::create(env, handler_.Value());
    if (!host_) throw env.GetAndClearPendingException();
    host_->onDisconnect = [this](uint64_t id) {
      if (ClientEntry* e = find(id)) setOpen(*e, false);
    };
  }
  return host_;
}

std::shared_ptr<diarkis::Runtime> AddonState::runtime(Napi::Env env) {
  if (cleanedUp_) throwCodeError(env, diarkis::ErrorCode::NotConnected, "the environment is shutting down");
  if (!lease_) {
    try {
      lease_.emplace();
    } catch (const std::exception& e) {
      throwCodeError(env, diarkis::ErrorCode::NetworkError,
                     std::string("cannot start the network runtime: ") + e.what());
    }
  }
  return lease_->get();
}

uint64_t AddonState::add(std::unique_ptr<JsClient> client, bool threaded) {
  const uint64_t id = client->id();
  ClientEntry& e = clients_[id];
  e.client = std::move(client);
  e.threaded = threaded;
  return id;
}

ClientEntry* AddonState::find(uint64_t id) {
  auto it = clients_.find(id);
  return it == clients_.end() ? nullptr : &it->second;
}

ClientEntry& AddonState::get(Napi::Env env, uint64_t id) {
  ClientEntry* e = find(id);
  if (e == nullptr) {
    throwCodeError(env, diarkis::ErrorCode::NotConnected, "client " + std::to_string(id) + " is released");
  }
  return *e;
}

void AddonState::remove(uint64_t id) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  setOpen(it->second, false);
  EventSink* sink = it->second.threaded ? static_cast<EventSink*>(pump_.get()) : host_.get();
  if (sink) sink->untrack(id);
  // Move out first so the map is consistent while Detach() blocks.
  std::unique_ptr<JsClient> doomed = std::move(it->second.client);
  clients_.erase(it);
  doomed.reset();
}

void AddonState::setOpen(ClientEntry& e, bool open) {
  e.open = open;
  syncRef(e);
}

void AddonState::setRefed(ClientEntry& e, bool refed) {
  e.refed = refed;
  syncRef(e);
}

void AddonState::syncRef(ClientEntry& e) {
  const bool want = e.open && e.refed;
  if (want == e.holdsRef) return;
  if (e.threaded ? !pump_ : !host_) return;
  e.holdsRef = want;
  if (e.threaded) {
    if (want) pump_->addRef(); else pump_->dropRef();
  } else {
    if (want) host_->addRef(); else host_->dropRef();
  }
}

// ---- module init ----

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonState>(new AddonState(env));
  registerTcpClientExports(env, exports);
  registerUdpClientExports(env, exports);
  registerSendBatchExports(env, exports);
  return exports;
}

}  // namespace diarkis_node

// NODE_API_MODULE pastes the init function's name: it must be a plain identifier.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return diarkis_node::Init(env, exports); }
NODE_API_MODULE(diarkis_node, InitModule)
