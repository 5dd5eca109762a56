// The event pump of the network-thread driver: how events reach JavaScript when
// the clients run on the runtime's own thread (io: 'thread').
//
// One thread-safe function (TSFN) per Node environment, never one per client or
// per event. The network thread appends {clientId, Event} to the core's
// EventQueue and signals the TSFN only when the queue goes from empty to
// non-empty. On the JS thread the pump takes up to kMaxBatch events and hands
// them to JS in ONE call (the batch layout is in batch.h). Leftovers past the
// cap are re-signalled so the event loop is never starved.
//
// The TSFN is ref'd while at least one ref'd, open client exists (addRef/dropRef),
// so the process lives exactly as long as a ref'd net.Socket would keep it alive.
#pragma once
#include "napi_include.h"

#include <cstddef>
#include <cstdint>
#include <memory>

#include "event_sink.h"
#include "lifetime.h"

namespace diarkis_node {

class EventPump final : public EventSink {
 public:
  // JS thread. The TSFN starts unref'd: an idle pump never keeps the process alive.
  // Throws a JS error if the TSFN cannot be created.
  static std::shared_ptr<EventPump> create(Napi::Env env, Napi::Function handler);
  ~EventPump() override = default;
  EventPump(const EventPump&) = delete;
  EventPump& operator=(const EventPump&) = delete;


  // JS thread: a ref'd, open client appeared / went away.
  void addRef();
  void dropRef();

  // JS thread: stop accepting events and release the TSFN. Idempotent.
  void close();

  void addStats(PumpStats& s);

 protected:
  // Any thread (the network thread). Never blocks on JS.
  void queued(bool wasEmpty) override;

 private:
  EventPump() = default;
  // The TSFN is driven through the raw Node-API C functions, not node-addon-api's
  // wrappers: these run while a worker is being terminated, when a failing call
  // must be ignored, never thrown (a C++ exception here, or node-addon-api turning
  // the failure into a fatal error, would abort the process).
  static void callJs(napi_env env, napi_value handler, void* context, void* data);
  static void finalize(napi_env env, void* data, void* hint);
  void deliver(napi_env env, napi_value handler);

  CallGate gate_;                 // guards signals_ and every TSFN call off-thread
  uint64_t signals_ = 0;

  // JS thread only.
  napi_threadsafe_function tsfn_ = nullptr;
  napi_env env_ = nullptr;
  int refs_ = 0;
  bool released_ = false;         // we called Release()
  bool finalized_ = false;        // Node finalized the TSFN (env teardown)
};

}  // namespace diarkis_node
