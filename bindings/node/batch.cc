#include "batch.h"

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

bool buildBatch(napi_env env, const std::vector<diarkis::QueuedEvent>& items, napi_value args[3]) {
  using namespace batch;
  const size_t n = items.size();
  size_t slabBytes = 0;
  for (const auto& item : items) {
    if (hasPayload(item.ev) && item.ev.payload.size() <= kSlabPayloadMax) slabBytes += item.ev.payload.size();
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
    return false;
  }
  auto* m = static_cast<double*>(metaData);
  auto* slabData = static_cast<uint8_t*>(slabVoid);
  size_t slabPos = 0;
  uint32_t objIndex = 0;
  bool failed = false;
  auto push = [&](napi_value v) {
    if (v == nullptr || napi_set_element(env, objs, objIndex++, v) != napi_ok) failed = true;
  };
  for (size_t i = 0; i < n && !failed; ++i) {
    const Event& ev = items[i].ev;
    double* row = m + i * kStride;
    row[kClientId] = static_cast<double>(items[i].clientId);  // exact below 2^53
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
  if (failed) return false;
  args[0] = meta;
  args[1] = slab;
  args[2] = objs;
  return true;
}

void afterBatch(std::vector<diarkis::QueuedEvent>& items, const std::function<void(uint64_t)>& onDisconnect) {
  for (auto& item : items) {
    if (item.ev.type == EventType::Disconnect && onDisconnect) onDisconnect(item.clientId);
    diarkis::Bytes().swap(item.ev.payload);  // free delivered payloads now, not at the next take
  }
}

}  // namespace diarkis_node
