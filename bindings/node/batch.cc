#include "batch.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace diarkis_node {
namespace {

using diarkis::Event;
using diarkis::EventType;

// Strings an event carries into objs, in the order the JS side reads them.
template <typename Fn>
void forEachString(const Event& ev, Fn&& fn) {
  switch (ev.type) {
    case EventType::Disconnect:
    case EventType::Error:
      fn(ev.message);
      break;
    case EventType::Echo:
      fn(ev.address);
      break;
    case EventType::Migrated:
      fn(ev.from);
      fn(ev.address);
      break;
    default:
      break;
  }
}

bool hasPayload(const Event& ev) { return ev.type == EventType::Response || ev.type == EventType::Push; }

double valueOf(const Event& ev) {
  switch (ev.type) {
    case EventType::Connect:
      return ev.reconnected ? 1 : 0;
    case EventType::Disconnect:
    case EventType::Error:
      return static_cast<double>(ev.code);
    case EventType::Heartbeat:
    case EventType::Echo:
    case EventType::Migrated:
      return ev.rttMs;
    default:
      return 0;
  }
}

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

bool BatchMeta::get(napi_env env, size_t doubles, napi_value& array, double*& data) {
  if (ref_ != nullptr && doubles <= capacity_) {
    if (napi_get_reference_value(env, ref_, &array) != napi_ok || array == nullptr) return false;
    data = data_;
    return true;
  }
  const size_t cap = std::max({doubles, 2 * capacity_, size_t{64} * batch::kStride});
  napi_value buffer = nullptr;
  void* raw = nullptr;
  napi_ref ref = nullptr;
  if (napi_create_arraybuffer(env, cap * sizeof(double), &raw, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, cap, buffer, 0, &array) != napi_ok ||
      napi_create_reference(env, array, 1, &ref) != napi_ok) {
    return false;
  }
  release(env);
  ref_ = ref;
  data_ = static_cast<double*>(raw);  // V8 never moves a backing store; the reference keeps it
  capacity_ = cap;
  data = data_;
  return true;
}

void BatchMeta::release(napi_env env) {
  if (ref_ != nullptr) napi_delete_reference(env, ref_);
  ref_ = nullptr;
  data_ = nullptr;
  capacity_ = 0;
}

bool buildBatch(napi_env env, const diarkis::QueueBatch& items, BatchMeta& metaStore, napi_value args[4]) {
  using namespace batch;
  const size_t n = items.size();
  const diarkis::Bytes& arena = items.arena;
  // The arena's packets are at the slab's start, at their own offsets (one copy for them
  // all); the other events' small payloads follow.
  size_t slabBytes = arena.size();
  for (const Event& ev : items.events) {
    if (hasPayload(ev) && ev.payload.size() <= kSlabPayloadMax) slabBytes += ev.payload.size();
  }
  // Every value below is in memory V8 owns (no external buffers: Electron's cage).
  double* m = nullptr;
  napi_value meta = nullptr;
  napi_value slab = nullptr;
  void* slabVoid = nullptr;
  napi_value objs = nullptr;
  napi_value count = nullptr;
  if (!metaStore.get(env, n * kStride, meta, m) ||
      napi_create_buffer(env, slabBytes, &slabVoid, &slab) != napi_ok || napi_create_array(env, &objs) != napi_ok ||
      napi_create_double(env, static_cast<double>(n * kStride), &count) != napi_ok) {
    return false;
  }
  auto* slabData = static_cast<uint8_t*>(slabVoid);
  if (!arena.empty()) std::memcpy(slabData, arena.data(), arena.size());
  size_t slabPos = arena.size();
  uint32_t objIndex = 0;
  bool failed = false;
  auto push = [&](napi_value v) {
    if (v == nullptr || napi_set_element(env, objs, objIndex++, v) != napi_ok) failed = true;
  };
  for (size_t i = 0; i < n && !failed; ++i) {
    const diarkis::QueueRow& r = items.rows[i];
    double* row = m + i * kStride;
    row[kClientId] = static_cast<double>(r.clientId);  // exact below 2^53
    row[kType] = static_cast<double>(r.type);
    if (r.packet) {  // the common case: everything is in the row
      row[kVer] = r.ver;
      row[kCmd] = r.cmd;
      row[kStatus] = r.status;
      row[kValue] = 0;
      row[kPayloadOffset] = static_cast<double>(r.at);
      row[kPayloadLength] = r.length;
      continue;
    }
    const Event& ev = items.event(r);
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
  if (failed) return false;
  args[0] = meta;
  args[1] = slab;
  args[2] = objs;
  args[3] = count;
  return true;
}

void afterBatch(diarkis::QueueBatch& items, const std::function<void(uint64_t)>& onDisconnect) {
  if (onDisconnect) {
    for (const diarkis::QueueRow& r : items.rows) {
      if (r.type == EventType::Disconnect && !r.packet) onDisconnect(r.clientId);
    }
  }
  // Free delivered payloads and strings now, not at the next take (capacity kept;
  // the rows are not read again).
  items.events.clear();
}

}  // namespace diarkis_node
