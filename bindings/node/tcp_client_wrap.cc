#include "tcp_client_wrap.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "addon_state.h"
#include "args.h"
#include "batch.h"
#include "client_factory.h"

namespace diarkis_node {

using diarkis::EventType;

// ---- exported functions (JS thread) ----

namespace {

constexpr int64_t kMaxId = (int64_t{1} << 53) - 1;  // ids are exact in a JS number

uint64_t idArg(const Napi::CallbackInfo& info) { return static_cast<uint64_t>(intArg(info, 0, "id", 0, kMaxId)); }

// Tests only: a std:: exception inside a binding, as a bad_alloc or an OpenSSL
// failure would raise; NODE_ADDON_API_CPP_EXCEPTIONS_ALL turns it into a JS Error.
Napi::Value ThrowStdForTest(const Napi::CallbackInfo&) {
  throw std::runtime_error("diarkis: a std exception inside a binding (test)");
}

// Tests only: the next n deliveries of this environment's events (either driver)
// throw a std:: exception inside the pump, which must catch it and go on.
Napi::Value FailNextDeliveryForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  const int n = static_cast<int>(intArg(info, 0, "n", 0, 1000));
  if (st.pumpPtr()) st.pumpPtr()->failNextForTest(n);
  if (st.hostPtr()) st.hostPtr()->failNextForTest(n);
  return env.Undefined();
}

Napi::Value SetEventHandler(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  if (!info[0].IsFunction()) throwTypeError(env, "handler must be a function");
  if (st.pumpPtr()) throwTypeError(env, "the event handler is already set");
  if (st.cleanedUp()) throwCodeError(env, diarkis::ErrorCode::NotConnected, "the environment is shutting down");
  st.setPump(EventPump::create(env, info[0].As<Napi::Function>()), info[0].As<Napi::Function>());
  return env.Undefined();
}

diarkis::TcpOptions parseOptions(Napi::Env env, const Napi::Value& value) {
  diarkis::TcpOptions o;
  Napi::Object obj;
  if (!optionsObject(env, value, obj)) return o;
  parseCommonOptions(obj, o);
  o.heartbeatIntervalMs = numberOption(obj, "heartbeatIntervalMs", o.heartbeatIntervalMs, 10, kDayMs);
  o.heartbeatMissLimit =
      static_cast<uint32_t>(numberOption(obj, "heartbeatMissLimit", o.heartbeatMissLimit, 1, 1000));
  parseMigrationOptions(env, obj, o);
  return o;
}

Napi::Value Create(const Napi::CallbackInfo& info) { return createClient<JsTcpClient>(info, parseOptions); }

diarkis::Key16 keyField(Napi::Env env, const Napi::Object& keys, const char* name, bool required) {
  diarkis::Key16 out{};
  const Napi::Value v = keys.Get(name);
  if (!v.IsString()) throwTypeError(env, std::string("keys.") + name + " must be a string");
  const std::string hex = v.As<Napi::String>().Utf8Value();
  if (!required && hex.empty()) return out;
  if (!diarkis::parseHex16(hex, out)) {
    throwRangeError(env, std::string("keys.") + name + " must be 32 hex characters");
  }
  return out;
}

Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  const uint64_t id = idArg(info);
  const std::string host = stringArg(info, 1, "host");
  const auto port = static_cast<uint16_t>(intArg(info, 2, "port", 1, 65535));
  if (!info[3].IsObject()) throwTypeError(env, "keys must be an object");
  const Napi::Object k = info[3].As<Napi::Object>();
  diarkis::SessionKeys keys;
  const Napi::Value enc = k.Get("encrypted");
  if (!enc.IsBoolean()) throwTypeError(env, "keys.encrypted must be a boolean");
  keys.encrypted = enc.As<Napi::Boolean>().Value();
  keys.sid = keyField(env, k, "sid", true);
  keys.key = keyField(env, k, "key", keys.encrypted);
  keys.iv = keyField(env, k, "iv", keys.encrypted);
  keys.macKey = keyField(env, k, "macKey", keys.encrypted);
  ClientEntry& e = st.get(env, id);
  const diarkis::ErrorCode rc = e.client->connect(host, port, keys);
  if (rc == diarkis::ErrorCode::InvalidArgument) throwTypeError(env, "host must be a numeric IP address");
  if (rc != diarkis::ErrorCode::None) throwCodeError(env, rc, std::string("connect failed: ") + codeName(rc));
  st.setOpen(e, true);
  return env.Undefined();
}

// A whole number in [min, max] (raw Node-API: no exception, no string).
bool fastInt(napi_env env, napi_value v, double max, double& out) {
  return napi_get_value_double(env, v, &out) == napi_ok && out >= 0 && out <= max && std::trunc(out) == out;
}

// send()'s arguments as the TS client always passes them, read with one raw Node-API call
// each (the checked path below made about ten per request: perf, issue 9 fourth session).
// False on anything else: the checked path then throws the error it always threw.
bool fastSendArgs(const Napi::CallbackInfo& info, uint64_t& id, uint8_t& ver, uint16_t& cmd, const uint8_t*& data,
                  size_t& len, bool& reliable) {
  napi_env env = info.Env();
  double d[3];
  if (info.Length() < 4 || !fastInt(env, info[0], static_cast<double>(kMaxId), d[0]) ||
      !fastInt(env, info[1], 255, d[1]) || !fastInt(env, info[2], 65535, d[2])) {
    return false;
  }
  napi_typedarray_type type = napi_int8_array;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, info[3], &type, &len, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array || len > diarkis::wire::kMaxLength24) {
    return false;
  }
  reliable = true;
  if (info.Length() >= 5) {
    napi_valuetype t = napi_undefined;
    if (napi_typeof(env, info[4], &t) != napi_ok) return false;
    if (t != napi_undefined && napi_get_value_bool(env, info[4], &reliable) != napi_ok) return false;
  }
  id = static_cast<uint64_t>(d[0]);
  ver = static_cast<uint8_t>(d[1]);
  cmd = static_cast<uint16_t>(d[2]);
  data = static_cast<const uint8_t*>(raw);
  return true;
}

Napi::Value Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  uint64_t id = 0;
  uint8_t ver = 0;
  uint16_t cmd = 0;
  const uint8_t* data = nullptr;
  size_t len = 0;
  bool reliable = true;
  if (!fastSendArgs(info, id, ver, cmd, data, len, reliable)) {
    id = idArg(info);
    ver = static_cast<uint8_t>(intArg(info, 1, "ver", 0, 255));
    cmd = static_cast<uint16_t>(intArg(info, 2, "cmd", 0, 65535));
    const Napi::Value p = info[3];
    if (!p.IsTypedArray() || p.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throwTypeError(env, "payload must be a Uint8Array or Buffer");
    }
    const auto payload = p.As<Napi::Uint8Array>();
    len = payload.ByteLength();
    if (len > diarkis::wire::kMaxLength24) {
      throwRangeError(env, "payload of " + std::to_string(len) + " bytes exceeds the wire limit",
                      "payload-too-large");
    }
    data = payload.Data();
    // Optional 5th argument: reliable (default true; UDP's unreliable send passes false).
    reliable = info.Length() < 5 || info[4].IsUndefined() ? true : boolArg(info, 4, "reliable");
  }
  ClientEntry& e = st.get(env, id);
  bool writable = true;
  const diarkis::ErrorCode rc = e.client->send(ver, cmd, len > 0 ? data : nullptr, len, reliable, &writable);
  if (rc == diarkis::ErrorCode::PayloadTooLarge) {
    throwRangeError(env, "payload of " + std::to_string(len) + " bytes exceeds " +
                             (reliable ? "maxPayload" : "one datagram"), "payload-too-large");
  }
  if (rc != diarkis::ErrorCode::None) throwCodeError(env, rc, std::string("send failed: ") + codeName(rc));
  // Flags: 1 writable (below the high-water mark), 2 migrating: the request path's one
  // state question answered by the call it makes anyway (one addon crossing per request).
  const bool migrating = e.client->state() == diarkis::ClientState::Migrating;
  return Napi::Number::New(env, (writable ? 1 : 0) | (migrating ? 2 : 0));
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t id = idArg(info);
  const bool graceful = boolArg(info, 1, "graceful");
  AddonState::of(env).get(env, id).client->disconnect(graceful);
  return env.Undefined();
}

// migrate(id): start (or join) a live migration. Throws not-connected.
Napi::Value Migrate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const diarkis::ErrorCode rc = AddonState::of(env).get(env, idArg(info)).client->migrate();
  if (rc != diarkis::ErrorCode::None) throwCodeError(env, rc, std::string("migrate failed: ") + codeName(rc));
  return env.Undefined();
}

// takeUnsent(id) -> [{ ver, cmd, payload }]: what a failed migration (or any end
// of the session) left unsent, in order. Each call takes them.
Napi::Value TakeUnsent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<diarkis::UnsentPacket> unsent = AddonState::of(env).get(env, idArg(info)).client->takeUnsent();
  Napi::Array out = Napi::Array::New(env, unsent.size());
  for (size_t i = 0; i < unsent.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("ver", Napi::Number::New(env, unsent[i].ver));
    o.Set("cmd", Napi::Number::New(env, unsent[i].cmd));
    // A copy V8 owns (no external buffers: Electron's memory cage).
    o.Set("payload", Napi::Buffer<uint8_t>::Copy(env, unsent[i].body.data(), unsent[i].body.size()));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

Napi::Value Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState::of(env).remove(idArg(info));  // unknown ids are fine: release is idempotent
  return env.Undefined();
}

Napi::Value Ref(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  st.setRefed(st.get(env, idArg(info)), true);
  return env.Undefined();
}

Napi::Value Unref(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  st.setRefed(st.get(env, idArg(info)), false);
  return env.Undefined();
}

// isMigrating(id): the one state question of the request path, as a boolean
// (no string made per request).
Napi::Value IsMigrating(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ClientEntry& e = AddonState::of(env).get(env, idArg(info));
  return Napi::Boolean::New(env, e.client->state() == diarkis::ClientState::Migrating);
}

Napi::Value State(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ClientEntry& e = AddonState::of(env).get(env, idArg(info));
  return Napi::String::New(env, diarkis::clientStateName(e.client->state()));
}

const char* dropName(size_t i) {
  static const char* const kNames[] = {
#define DIARKIS_X(name, str) str,
      DIARKIS_DROP_REASONS(DIARKIS_X)
#undef DIARKIS_X
  };
  return kNames[i];
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ClientEntry& e = AddonState::of(env).get(env, idArg(info));
  const diarkis::StatsSnapshot s = e.client->stats();
  Napi::Object o = Napi::Object::New(env);
  auto num = [&](const char* name, uint64_t v) { o.Set(name, Napi::Number::New(env, static_cast<double>(v))); };
  num("packetsSent", s.packetsSent);
  num("packetsReceived", s.packetsReceived);
  num("bytesSent", s.bytesSent);
  num("bytesReceived", s.bytesReceived);
  num("retransmits", s.retransmits);
  num("heartbeatsSent", s.heartbeatsSent);
  num("heartbeatsAnswered", s.heartbeatsAnswered);
  num("migrations", s.migrations);
  num("queuedBytes", s.queuedBytes);
  num("reassemblyBytes", s.reassemblyBytes);
  num("sendDropped", s.sendDropped);
  num("undeliveredBytes", s.undeliveredBytes);
  num("receivePauses", s.receivePauses);
  num("receiveDeferred", s.receiveDeferred);
  Napi::Object drops = Napi::Object::New(env);
  for (size_t i = 0; i < s.drops.size(); ++i) {
    drops.Set(dropName(i), Napi::Number::New(env, static_cast<double>(s.drops[i])));
  }
  o.Set("drops", drops);
  return o;
}

Napi::Value GetPumpStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  Napi::Object o = Napi::Object::New(env);
  PumpStats s;
  if (st.pumpPtr()) st.pumpPtr()->addStats(s);
  if (st.hostPtr()) st.hostPtr()->addStats(s);
  auto num = [&](const char* name, double v) { o.Set(name, Napi::Number::New(env, v)); };
  num("signals", static_cast<double>(s.signals));
  num("batches", static_cast<double>(s.batches));
  num("events", static_cast<double>(s.events));
  num("maxBatch", static_cast<double>(s.maxBatch));
  num("dropped", static_cast<double>(s.dropped));
  num("queued", static_cast<double>(s.queued));
  num("failures", static_cast<double>(s.failures));
  num("clients", static_cast<double>(st.clientCount()));
  num("runtimeLeases", RuntimeLease::leases());
  return o;
}

Napi::Array nameTable(Napi::Env env, const char* const* names, size_t n) {
  Napi::Array a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; ++i) a.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return a;
}

}  // namespace

void registerTcpClientExports(Napi::Env env, Napi::Object exports) {
  exports.Set("setEventHandler", Napi::Function::New(env, SetEventHandler, "setEventHandler"));
  exports.Set("create", Napi::Function::New(env, Create, "create"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("send", Napi::Function::New(env, Send, "send"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("release", Napi::Function::New(env, Release, "release"));
  exports.Set("migrate", Napi::Function::New(env, Migrate, "migrate"));
  exports.Set("takeUnsent", Napi::Function::New(env, TakeUnsent, "takeUnsent"));
  exports.Set("ref", Napi::Function::New(env, Ref, "ref"));
  exports.Set("unref", Napi::Function::New(env, Unref, "unref"));
  exports.Set("state", Napi::Function::New(env, State, "state"));
  exports.Set("isMigrating", Napi::Function::New(env, IsMigrating, "isMigrating"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  exports.Set("pumpStats", Napi::Function::New(env, GetPumpStats, "pumpStats"));
  exports.Set("throwStdForTest", Napi::Function::New(env, ThrowStdForTest, "throwStdForTest"));
  exports.Set("failNextDeliveryForTest",
              Napi::Function::New(env, FailNextDeliveryForTest, "failNextDeliveryForTest"));

  static const char* const kCodes[] = {
#define DIARKIS_X(name, str) str,
      DIARKIS_ERROR_CODES(DIARKIS_X)
#undef DIARKIS_X
  };
  // Must match diarkis::EventType's order (the `type` field of a batch row).
  static const char* const kEventTypes[] = {"connect",  "disconnect", "offline",  "response", "push",
                                            "heartbeat", "echo",      "migrated", "drain",    "error"};
  static_assert(static_cast<size_t>(EventType::Error) + 1 == sizeof(kEventTypes) / sizeof(kEventTypes[0]),
                "kEventTypes must list every diarkis::EventType");
  exports.Set("errorCodes", nameTable(env, kCodes, sizeof(kCodes) / sizeof(kCodes[0])));
  exports.Set("eventTypes", nameTable(env, kEventTypes, sizeof(kEventTypes) / sizeof(kEventTypes[0])));
  exports.Set("batchStride", Napi::Number::New(env, static_cast<double>(batch::kStride)));
}

}  // namespace diarkis_node
