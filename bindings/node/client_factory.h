// What creating a client of either transport shares: the options every
// transport has, and create() itself. Each wrap parses only its own options.
#pragma once
#include "napi_include.h"

#include <memory>
#include <string>

#include "addon_state.h"
#include "args.h"

namespace diarkis_node {

inline constexpr double kDayMs = 86400000;

// The options object (or nullptr for none/undefined/null). Throws a TypeError for a non-object.
inline bool optionsObject(Napi::Env env, const Napi::Value& value, Napi::Object& out) {
  if (value.IsUndefined() || value.IsNull()) return false;
  if (!value.IsObject()) throwTypeError(env, "options must be an object");
  out = value.As<Napi::Object>();
  return true;
}

// Options with the same name and meaning on TCP and UDP.
template <typename Options>
void parseCommonOptions(const Napi::Object& obj, Options& o) {
  o.connectTimeoutMs = numberOption(obj, "connectTimeoutMs", o.connectTimeoutMs, 1, kDayMs);
  o.maxPayload = static_cast<uint32_t>(
      numberOption(obj, "maxPayload", o.maxPayload, 16, diarkis::wire::kMaxLength24));
  o.highWaterMark = static_cast<size_t>(numberOption(obj, "highWaterMark", static_cast<double>(o.highWaterMark),
                                                     1, 1u << 30));
  o.maxQueuedBytes = static_cast<size_t>(
      numberOption(obj, "maxQueuedBytes", static_cast<double>(o.maxQueuedBytes), 1, 4096.0 * 1024 * 1024));
  o.closeTimeoutMs = numberOption(obj, "closeTimeoutMs", o.closeTimeoutMs, 0, kDayMs);
  o.receiveHighWaterMark = static_cast<size_t>(numberOption(
      obj, "receiveHighWaterMark", static_cast<double>(o.receiveHighWaterMark), 1024, 1u << 30));
  o.maxReceiveStallMs = numberOption(obj, "maxReceiveStallMs", o.maxReceiveStallMs, 1, kDayMs);
}

// Live migration's options: the same names and bounds on TCP and UDP.
template <typename Options>
void parseMigrationOptions(Napi::Env env, const Napi::Object& obj, Options& o) {
  const Napi::Value autoMigrate = obj.Get("autoMigrate");
  if (!autoMigrate.IsUndefined()) {
    if (!autoMigrate.IsBoolean()) throwTypeError(env, "autoMigrate must be a boolean");
    o.autoMigrate = autoMigrate.As<Napi::Boolean>().Value();
  }
  o.handoffTtlMs = numberOption(obj, "handoffTtlMs", o.handoffTtlMs, 1, kDayMs);
  o.migrateRetryMinMs = numberOption(obj, "migrateRetryMinMs", o.migrateRetryMinMs, 1, kDayMs);
  o.migrateRetryMaxMs = numberOption(obj, "migrateRetryMaxMs", o.migrateRetryMaxMs, 1, kDayMs);
  if (o.migrateRetryMaxMs < o.migrateRetryMinMs) {
    throwRangeError(env, "migrateRetryMaxMs must be at least migrateRetryMinMs");
  }
  o.lingerMs = numberOption(obj, "lingerMs", o.lingerMs, 0, kDayMs);
}

// options.io: 'loop' (default: the environment's own event loop) or 'thread'
// (the network-thread runtime). True for 'thread'.
inline bool threadedOption(Napi::Env env, const Napi::Value& value) {
  Napi::Object obj;
  if (!optionsObject(env, value, obj)) return false;
  const Napi::Value io = obj.Get("io");
  if (io.IsUndefined()) return false;
  const std::string s = io.IsString() ? io.As<Napi::String>().Utf8Value() : std::string();
  if (s != "loop" && s != "thread") throwTypeError(env, "options.io must be 'loop' or 'thread'");
  return s == "thread";
}

// create(options) -> id, for a JsClientOf<...> final class.
template <typename Client, typename Options>
Napi::Value createClient(const Napi::CallbackInfo& info, Options (*parse)(Napi::Env, const Napi::Value&)) {
  Napi::Env env = info.Env();
  AddonState& st = AddonState::of(env);
  Options options = parse(env, info[0]);
  const bool threaded = threadedOption(env, info[0]);
  st.pump(env);  // throws when there is no handler
  std::unique_ptr<Client> client;
  if (threaded) {
    client = std::make_unique<Client>(st.runtime(env), std::move(options), st.pumpPtr());
  } else {
    const std::shared_ptr<HostLoop>& host = st.host(env);
    client = std::make_unique<Client>(host->runtime(), std::move(options), host);
  }
  return Napi::Number::New(env, static_cast<double>(st.add(std::move(client), threaded)));  // exact below 2^53
}

}  // namespace diarkis_node
