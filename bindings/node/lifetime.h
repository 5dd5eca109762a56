// Small RAII types, one per lifetime hazard of the addon (after zeromq.js src/util).
// Each names the hazard it removes; the bindings use them instead of ad-hoc flags.
#pragma once
#include <node_api.h>

#include <memory>
#include <mutex>

#include "diarkis/runtime.h"

namespace diarkis_node {

// Hazard: one process-wide network runtime is shared by every Node environment
// (the main thread and each worker). Shutting it down while another environment
// still has clients on it would destroy their clients under them; never shutting
// it down would leave a thread running into a torn-down environment.
// A lease holds the runtime alive; the last lease to go shuts it down (joins the
// thread). Must be released on a JS thread, never on the network thread.
class RuntimeLease {
 public:
  RuntimeLease();  // acquires (creating the runtime when there is none)
  ~RuntimeLease() { release(); }
  RuntimeLease(const RuntimeLease&) = delete;
  RuntimeLease& operator=(const RuntimeLease&) = delete;

  const std::shared_ptr<diarkis::Runtime>& get() const { return runtime_; }
  // Idempotent; the last release shuts the runtime down.
  void release();
  // Number of live leases (for tests and diagnostics).
  static int leases();

 private:
  std::shared_ptr<diarkis::Runtime> runtime_;
};

// Hazard: an environment cleanup hook that runs after the object it points to was
// freed (or an object freed while its hook is still registered). The hook removes
// itself when the owner goes first, and runs at most once.
template <typename Owner>
class EnvCleanupHook {
 public:
  EnvCleanupHook(napi_env env, Owner* owner) : env_(env), owner_(owner) {
    registered_ = napi_add_env_cleanup_hook(env_, &EnvCleanupHook::run, this) == napi_ok;
  }
  ~EnvCleanupHook() { remove(); }
  EnvCleanupHook(const EnvCleanupHook&) = delete;
  EnvCleanupHook& operator=(const EnvCleanupHook&) = delete;

  void remove() {
    if (registered_) {
      registered_ = false;
      napi_remove_env_cleanup_hook(env_, &EnvCleanupHook::run, this);
    }
  }

 private:
  static void run(void* arg) {
    auto* self = static_cast<EnvCleanupHook*>(arg);
    self->registered_ = false;  // Node removes a hook once it has run
    try {
      self->owner_->cleanup();
    } catch (...) {
      // A C callback of Node's: nothing may leave it. The owner's destructor cleans up again.
    }
  }
  napi_env env_;
  Owner* owner_;
  bool registered_ = false;
};

// Hazard: calling into a thread-safe function from the network thread after its
// environment released or finalized it (use-after-free inside Node). The gate is
// closed under its mutex before the release, and every call from another thread
// happens under that same mutex, so no call can race past the close.
class CallGate {
 public:
  // Runs fn() under the gate's lock if the gate is open; returns whether it ran.
  template <typename Fn>
  bool ifOpen(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return false;
    fn();
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  std::mutex& mutex() { return mu_; }
  bool openLocked() const { return open_; }

 private:
  std::mutex mu_;
  bool open_ = true;
};

}  // namespace diarkis_node
