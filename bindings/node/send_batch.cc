// sendBatch: every send of one JS turn in one addon call (issue 9, fifth session).
//
//   sendBatch(records: Uint8Array, length: number, out: Float64Array)
//
// records holds `length` bytes of records, each 4-aligned:
//   u32 id | u32 ver | cmd << 8 | u32 payload length | u32 slot | payload, zero-padded to 4
// (host byte order: the JS side writes them through a Uint32Array on the same memory).
// Slots number the batch's clients 0, 1, ... in the order of their first record. For
// each slot the call writes out[2 * slot] = flags (1 every record was below the
// high-water mark, 2 migrating, 4 a record was refused: the client was closed or
// released meanwhile, as a send into a socket that then closed) and
// out[2 * slot + 1] = the client's queued bytes after the batch.
//
// Each record is encoded straight into its session's output (JsClient::sendInPlace);
// each client settles once, after its last record (one write per loop turn).
#include <cstring>
#include <vector>

#include "addon_state.h"
#include "args.h"
#include "send_batch.h"

namespace diarkis_node {
namespace {

constexpr size_t kHeader = 16;

bool typedArray(napi_env env, napi_value v, napi_typedarray_type want, void*& data, size_t& length) {
  napi_typedarray_type type = napi_int8_array;
  return napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) == napi_ok && type == want;
}

Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  void* rawRecords = nullptr;
  void* rawOut = nullptr;
  size_t size = 0;
  size_t outLength = 0;
  if (info.Length() < 3 || !typedArray(env, info[0], napi_uint8_array, rawRecords, size) ||
      !typedArray(env, info[2], napi_float64_array, rawOut, outLength)) {
    throwTypeError(env, "sendBatch(records: Uint8Array, length: number, out: Float64Array)");
  }
  double lengthArg = -1;  // raw: one Node-API call per turn, the checked path only on a bad value
  if (napi_get_value_double(env, info[1], &lengthArg) != napi_ok || !(lengthArg >= 0) ||
      lengthArg > static_cast<double>(size) || lengthArg != static_cast<double>(static_cast<size_t>(lengthArg))) {
    intArg(info, 1, "length", 0, static_cast<int64_t>(size));  // throws the usual error
  }
  const auto length = static_cast<size_t>(lengthArg);
  const auto* records = static_cast<const uint8_t*>(rawRecords);
  auto* out = static_cast<double*>(rawOut);
  static thread_local std::vector<JsClient*> touched;  // per JS thread (environment); reused; null: gone
  touched.clear();
  uint64_t lastId = 0;
  ClientEntry* last = nullptr;
  size_t pos = 0;
  bool malformed = false;
  while (pos + kHeader <= length) {
    uint32_t h[4];
    std::memcpy(h, records + pos, sizeof h);
    const uint64_t id = h[0];
    const size_t len = h[2];
    const size_t slot = h[3];
    const size_t next = pos + kHeader + ((len + 3) & ~size_t{3});
    if (next > length || len > length || slot > touched.size() || 2 * slot + 1 >= outLength) {
      malformed = true;
      break;
    }
    if (last == nullptr || id != lastId) {
      last = st.find(id);
      lastId = id;
    }
    JsClient* client = last != nullptr && last->client ? last->client.get() : nullptr;
    if (slot == touched.size()) {
      touched.push_back(client);
      out[2 * slot] = 1;
      out[2 * slot + 1] = 0;
    }
    bool writable = true;
    const diarkis::ErrorCode rc =
        client == nullptr
            ? diarkis::ErrorCode::NotConnected
            : client->sendInPlace(static_cast<uint8_t>(h[1] & 0xff), static_cast<uint16_t>(h[1] >> 8),
                                  len > 0 ? records + pos + kHeader : nullptr, len, &writable);
    if (rc != diarkis::ErrorCode::None) {
      out[2 * slot] = static_cast<double>(static_cast<int>(out[2 * slot]) | 4);
    } else if (!writable) {
      out[2 * slot] = static_cast<double>(static_cast<int>(out[2 * slot]) & ~1);
    }
    pos = next;
  }
  // Settled even after a malformed record: what was accepted goes out.
  for (size_t slot = 0; slot < touched.size(); ++slot) {
    JsClient* c = touched[slot];
    if (c == nullptr) continue;
    c->settleSends();
    const bool migrating = c->state() == diarkis::ClientState::Migrating;
    out[2 * slot] = static_cast<double>(static_cast<int>(out[2 * slot]) | (migrating ? 2 : 0));
    out[2 * slot + 1] = static_cast<double>(c->queuedBytes());
  }
  if (malformed || pos != length) throwRangeError(env, "sendBatch: malformed records");
  return env.Undefined();
}

// queuedBytes(id): what sendBatch reports per client, for one client.
Napi::Value QueuedBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto id = static_cast<uint64_t>(intArg(info, 0, "id", 0, (int64_t{1} << 53) - 1));
  return Napi::Number::New(env, static_cast<double>(AddonState::of(env).get(env, id).client->queuedBytes()));
}

}  // namespace

void registerSendBatchExports(Napi::Env env, Napi::Object exports) {
  exports.Set("sendBatch", Napi::Function::New(env, SendBatch, "sendBatch"));
  exports.Set("queuedBytes", Napi::Function::New(env, QueuedBytes, "queuedBytes"));
}

}  // namespace diarkis_node
