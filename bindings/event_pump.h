// The event pump: how native events reach JavaScript.
//
// One thread-safe function (TSFN) per Node environment, never one per client or
// per event. The network thread appends {clientId, Event} to a mutex-protected
// queue and signals the TSFN only when the queue goes from empty to non-empty.
// On the JS thread the pump swaps the queue out and hands up to kMaxBatch events to
// JS in ONE call as a compact batch:
//
//   handler(meta: Float64Array, slab: Buffer, objs: Array<string | Buffer>)
//
//   meta   kStride numbers per event: clientId, type, ver, cmd, status, value,
//          payloadOffset, payloadLength (see the Field enum)
//   slab   one Buffer holding the small payloads back to back (payloadOffset into it)
//   objs   in event order: large payloads (payloadOffset == -1) and the strings
//          some events carry (Disconnect/Error: message; Echo: address;
//          Migrated: from, to)
//
// Payloads are always copied into buffers V8 owns: never external buffers over
// native memory (Electron's V8 memory cage forbids them). Leftovers past the cap
// are re-signalled so the event loop is never starved.
//
// The TSFN is ref'd while at least one ref'd, open client exists (addRef/dropRef),
// so the process lives exactly as long as a ref'd net.Socket would keep it alive.
#pragma once
#include "napi_include.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "diarkis/event.h"
#include "lifetime.h"

namespace diarkis_node {


struct PumpStats {
  uint64_t signals = 0;    // empty -> non-empty transitions signalled by other threads
  uint64_t batches = 0;    // calls into JS
  uint64_t events = 0;     // events delivered
  uint64_t maxBatch = 0;   // largest batch delivered
  uint64_t dropped = 0;    // events posted after close (the environment was going away)
  uint64_t queued = 0;     // events waiting right now
};

class EventPump {
 public:
  static constexpr size_t kMaxBatch = 1024;
  static constexpr size_t kStride = 8;
  static constexpr size_t kSlabPayloadMax = 4096;  // larger payloads get their own Buffer
  enum Field : size_t { kClientId, kType, kVer, kCmd, kStatus, kValue, kPayloadOffset, kPayloadLength };

  // JS thread. The TSFN starts unref'd: an idle pump never keeps the process alive.
  // Throws a JS error if the TSFN cannot be created.
  static std::shared_ptr<EventPump> create(Napi::Env env, Napi::Function handler);
  ~EventPump() = default;
  EventPump(const EventPump&) = delete;
  EventPump& operator=(const EventPump&) = delete;

  // Any thread (the network thread). Never blocks on JS; dropped after close().
  void post(int clientId, diarkis::Event&& ev);

  // JS thread: a ref'd, open client appeared / went away.
  void addRef();
  void dropRef();

  // JS thread: stop accepting events and release the TSFN. Idempotent.
  void close();

  // Called on the JS thread for each Disconnect event, just before its batch goes to
  // JS, so the client's ref is dropped in the same turn.
  std::function<void(int clientId)> onDisconnect;

  PumpStats stats();

 private:
  struct Item {
    int clientId;
    diarkis::Event ev;
  };
  EventPump() = default;
  // The TSFN is driven through the raw Node-API C functions, not node-addon-api's
  // wrappers: these run while a worker is being terminated, when a failing call
  // must be ignored, never thrown (a C++ exception here, or node-addon-api turning
  // the failure into a fatal error, would abort the process).
  static void callJs(napi_env env, napi_value handler, void* context, void* data);
  static void finalize(napi_env env, void* data, void* hint);
  void deliver(napi_env env, napi_value handler);

  CallGate gate_;                 // guards queue_, signals_, dropped_ and every TSFN call off-thread
  std::vector<Item> queue_;
  uint64_t signals_ = 0;
  uint64_t dropped_ = 0;

  // JS thread only.
  napi_threadsafe_function tsfn_ = nullptr;
  napi_env env_ = nullptr;
  std::vector<Item> pending_;     // swapped-out batch being delivered
  size_t pendingPos_ = 0;
  int refs_ = 0;
  bool released_ = false;         // we called Release()
  bool finalized_ = false;        // Node finalized the TSFN (env teardown)
  uint64_t batches_ = 0;
  uint64_t events_ = 0;
  uint64_t maxBatch_ = 0;
};

}  // namespace diarkis_node
