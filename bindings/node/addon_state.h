// Per-environment state of the addon (Node-API instance data): the environment's
// two drivers (the host loop, and the event pump + a lease on the process-wide
// network-thread runtime), and its clients.
//
// Lifetime: created at module init, destroyed by Node with the environment. The
// environment's cleanup hook (worker termination, process exit, Electron reload)
// runs cleanup(): close the pump and the host loop, destroy the clients (each
// Detach()es first), release the TSFN and the runtime lease. Idempotent. The host
// loop's uv handles are closed by its own async cleanup hook (host_loop.h).
#pragma once
#include "napi_include.h"

#include <memory>
#include <optional>
#include <unordered_map>

#include "event_pump.h"
#include "host_loop.h"
#include "js_client.h"
#include "lifetime.h"
#include "options_pool.h"
#include "diarkis/udp_options.h"

namespace diarkis_node {

// What the environment knows about one client, on the JS thread only.
struct ClientEntry {
  std::unique_ptr<JsClient> client;
  bool refed = true;      // ref()/unref(), like net.Socket; ref'd by default
  bool open = false;      // connect() accepted and no Disconnect delivered yet
  bool holdsRef = false;  // counted in its driver's refs (refed && open)
  bool threaded = false;  // io: 'thread' (the event pump) rather than the host loop
};

class AddonState {
 public:
  explicit AddonState(Napi::Env env);
  ~AddonState();
  AddonState(const AddonState&) = delete;
  AddonState& operator=(const AddonState&) = delete;

  static AddonState& of(Napi::Env env);

  // Called by the cleanup hook or the destructor, whichever comes first.
  void cleanup();
  bool cleanedUp() const { return cleanedUp_; }

  // Throws a JS error if the handler is missing or the environment is going away.
  EventPump& pump(Napi::Env env);
  const std::shared_ptr<EventPump>& pumpPtr() const { return pump_; }
  void setPump(std::shared_ptr<EventPump> pump, Napi::Function handler);
  // The host-loop driver, created on first use. Throws a JS error if it cannot start.
  const std::shared_ptr<HostLoop>& host(Napi::Env env);
  const std::shared_ptr<HostLoop>& hostPtr() const { return host_; }

  // The shared runtime, leased on first use. Throws a JS error if it cannot start.
  std::shared_ptr<diarkis::Runtime> runtime(Napi::Env env);

  uint64_t add(std::unique_ptr<JsClient> client, bool threaded);
  ClientEntry* find(uint64_t id);
  // Throws 'not-connected' for an unknown (released) id.
  ClientEntry& get(Napi::Env env, uint64_t id);
  void remove(uint64_t id);  // destroys the client (blocks on Detach; never on the network thread)

  void setOpen(ClientEntry& e, bool open);
  void setRefed(ClientEntry& e, bool refed);
  size_t clientCount() const { return clients_.size(); }
  OptionsPool<diarkis::UdpOptions>& udpOptions() { return udpOptions_; }

 private:
  void syncRef(ClientEntry& e);

  std::shared_ptr<EventPump> pump_;
  Napi::FunctionReference handler_;  // the batch handler, for the host loop
  std::shared_ptr<HostLoop> host_;
  std::optional<RuntimeLease> lease_;
  std::unordered_map<uint64_t, ClientEntry> clients_;
  OptionsPool<diarkis::UdpOptions> udpOptions_;
  std::optional<EnvCleanupHook<AddonState>> hook_;
  bool cleanedUp_ = false;
};

}  // namespace diarkis_node
