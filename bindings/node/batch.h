// The compact batch one JS call carries, on either driver:
//
//   handler(meta: Float64Array, slab: Buffer, objs: Array<string | Buffer>, count: number)
//
//   meta   kStride numbers per event: clientId, type, ver, cmd, status, value,
//          payloadOffset, payloadLength (see the Field enum); only its first
//          `count` numbers are this batch's (the array is kept across batches)
//   slab   one Buffer holding the small payloads back to back (payloadOffset into it):
//          first the TCP packets' as the session decrypted them into the queue's
//          arena (one copy for the batch), then the other events' small payloads
//   objs   in event order: large payloads (payloadOffset == -1) and the strings
//          some events carry (Disconnect/Error: message; Echo: address;
//          Migrated: from, to)
//
// Payloads are always copied into buffers V8 owns: never external buffers over
// native memory (Electron's V8 memory cage forbids them).
#pragma once
#include <node_api.h>

#include <functional>
#include <vector>

#include "events/event_queue.h"

namespace diarkis_node {

namespace batch {
inline constexpr size_t kStride = 8;
inline constexpr size_t kSlabPayloadMax = 4096;  // larger payloads get their own Buffer
enum Field : size_t { kClientId, kType, kVer, kCmd, kStatus, kValue, kPayloadOffset, kPayloadLength };
}  // namespace batch

// The meta array, kept across batches: the dispatcher reads it before it returns, and a
// fresh ArrayBuffer per batch was most of buildBatch's cost (perf, issue 9). One per sink.
class BatchMeta {
 public:
  // A Float64Array of at least `doubles` elements and its data. False when Node-API refused.
  bool get(napi_env env, size_t doubles, napi_value& array, double*& data);
  // JS thread, while the environment is whole (the sinks' close(), in a cleanup hook).
  void release(napi_env env);

 private:
  napi_ref ref_ = nullptr;
  double* data_ = nullptr;
  size_t capacity_ = 0;
};

// Builds the four arguments for a take's items (the caller holds a handle scope).
// False when Node-API refused (the environment is going away); nothing is then delivered.
bool buildBatch(napi_env env, const diarkis::QueueBatch& items, BatchMeta& meta, napi_value args[4]);

// Runs onDisconnect for each Disconnect in items and frees the delivered events.
void afterBatch(diarkis::QueueBatch& items, const std::function<void(uint64_t)>& onDisconnect);

// Closes a handle scope on every return path (raw Node-API: these run in
// teardown, when a failing call must be ignored, never thrown).
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

}  // namespace diarkis_node
