#include "udp_client_wrap.h"

#include <memory>
#include <string>
#include <utility>

#include "client_factory.h"
#include "options_pool.h"

namespace diarkis_node {
namespace {

// The loop driver's ACK pace: one ACK datagram per 8 ms at most while DATs stream in (a lone DAT
// after a quiet time is acknowledged at its turn's flush). The reference node's tail-loss probe
// allows 9 ms for it (src/protocol/ours.ts RUDP_PEER_MAX_ACK_DELAY_MS); 8 against 4 ms measured
// fewer datagrams up with the time and CPU unchanged (docs/decisions.md, issue 10 sixth session).
constexpr double kLoopAckDelayMs = 8;

// Every field of UdpOptions, for the options pool. A field added to UdpOptions must be
// added here (the size check below is there to make that noticed).
std::string udpOptionsKey(const diarkis::UdpOptions& o) {
#if defined(__x86_64__) && defined(__GLIBCXX__)
  static_assert(sizeof(diarkis::UdpOptions) == 280, "a UdpOptions field changed: update udpOptionsKey");
#endif
  std::string k;
  k.reserve(320);
  keyField(k, o.connectTimeoutMs); keyField(k, o.synIntervalMs); keyField(k, o.echoIntervalMs);
  keyField(k, o.echoMissLimit); keyField(k, o.retryMinMs); keyField(k, o.retryMaxMs);
  keyField(k, o.maxRetries); keyField(k, o.adaptive); keyField(k, o.rtoMinMs);
  keyField(k, o.sendWindow); keyField(k, o.recvWindow); keyField(k, o.maxPayload);
  keyField(k, o.maxDatagramBody); keyField(k, o.packDelayMs); keyField(k, o.ackDelayMs);
  keyField(k, o.fragmentSize); keyField(k, o.closeTimeoutMs); keyField(k, o.highWaterMark);
  keyField(k, o.maxQueuedBytes); keyField(k, o.receiveHighWaterMark);
  keyField(k, o.maxReceiveStallMs); keyField(k, o.clientKey);
  keyField(k, o.localAddresses.size());
  for (const std::string& a : o.localAddresses) keyField(k, a);
  keyField(k, o.autoMigrate); keyField(k, o.handoffTtlMs); keyField(k, o.migrateRetryMinMs);
  keyField(k, o.migrateRetryMaxMs); keyField(k, o.lingerMs); keyField(k, o.rngSeed);
  keyField(k, o.callbacks.get());
  return k;
}

diarkis::UdpOptions parseUdpFields(Napi::Env env, const Napi::Value& value) {
  diarkis::UdpOptions o;
  Napi::Object obj;
  if (!optionsObject(env, value, obj)) return o;
  parseCommonOptions(obj, o);
  o.echoIntervalMs = numberOption(obj, "echoIntervalMs", o.echoIntervalMs, 10, kDayMs);
  o.echoMissLimit = static_cast<uint32_t>(numberOption(obj, "echoMissLimit", o.echoMissLimit, 1, 1000));
  o.synIntervalMs = numberOption(obj, "synIntervalMs", o.synIntervalMs, 1, kDayMs);
  o.retryMinMs = numberOption(obj, "retryMinMs", o.retryMinMs, 1, kDayMs);
  o.retryMaxMs = numberOption(obj, "retryMaxMs", o.retryMaxMs, 1, kDayMs);
  if (o.retryMaxMs < o.retryMinMs) throwRangeError(env, "retryMaxMs must be at least retryMinMs");
  o.maxRetries = static_cast<uint32_t>(numberOption(obj, "maxRetries", o.maxRetries, 1, 1000));
  const Napi::Value adaptive = obj.Get("adaptiveRetry");
  if (!adaptive.IsUndefined()) {
    if (!adaptive.IsBoolean()) throwTypeError(env, "adaptiveRetry must be a boolean");
    o.adaptive = adaptive.As<Napi::Boolean>().Value();
  }
  o.rtoMinMs = numberOption(obj, "rtoMinMs", o.rtoMinMs, 1, kDayMs);
  o.sendWindow = static_cast<size_t>(numberOption(obj, "sendWindow", static_cast<double>(o.sendWindow), 1, 65536));
  o.recvWindow = static_cast<size_t>(numberOption(obj, "recvWindow", static_cast<double>(o.recvWindow), 1, 65536));
  const Napi::Value key = obj.Get("clientKey");
  if (!key.IsUndefined()) {
    if (!key.IsString()) throwTypeError(env, "clientKey must be a string");
    o.clientKey = key.As<Napi::String>().Utf8Value();
  }
  parseMigrationOptions(env, obj, o);
  return o;
}

std::shared_ptr<const diarkis::UdpOptions> parseUdpOptions(Napi::Env env, const Napi::Value& value) {
  diarkis::UdpOptions o = parseUdpFields(env, value);
  // The loop driver flushes once per event-loop turn, after every send JavaScript made in
  // it: a pack delay on top only moves DATs to the next turn, so there is none. ACK datagrams
  // are paced (kLoopAckDelayMs, ReliableConfig::ackDelayMs): a burst's answers arrive over
  // many turns, and one ACK datagram per turn was 40-45 % of the datagrams a 2000-echo burst
  // sent up (issue 10); a lone DAT after a quiet time is still acknowledged at its turn's
  // flush, with no timer. The thread driver keeps 1 ms / 2 ms: there, sends from JavaScript
  // arrive one by one. (Issue 12 removed both delays here while Loop::runTimers spun on due
  // deadlines; that bug is fixed. docs/decisions.md, issue 10 fourth session.)
  if (!threadedOption(env, value)) {
    o.packDelayMs = 0;
    o.ackDelayMs = kLoopAckDelayMs;
  }
  std::string key = udpOptionsKey(o);
  return AddonState::of(env).udpOptions().intern(std::move(key), std::move(o));
}

Napi::Value CreateUdp(const Napi::CallbackInfo& info) { return createClient<JsUdpClient>(info, parseUdpOptions); }

// Tests only: the pack and ACK delays a UdpClient created with these options gets
// (parseUdpOptions: none on the loop driver), so that a test fails if they come back.
Napi::Value UdpFlushDelaysForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<const diarkis::UdpOptions> o = parseUdpOptions(env, info[0]);
  Napi::Object out = Napi::Object::New(env);
  out.Set("packDelayMs", Napi::Number::New(env, o->packDelayMs));
  out.Set("ackDelayMs", Napi::Number::New(env, o->ackDelayMs));
  return out;
}

// Tests only: the host timer's next n callbacks re-arm it at a deadline already
// past (HostLoop::timerStormForTest); with n = 0, how many of them have run.
Napi::Value HostTimerStormForTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int n = static_cast<int>(intArg(info, 0, "passes", 0, 100000));
  const std::shared_ptr<HostLoop>& host = AddonState::of(env).host(env);
  if (n > 0) host->timerStormForTest(n);
  return Napi::Number::New(env, static_cast<double>(host->timerStormRunsForTest()));
}

}  // namespace

void registerUdpClientExports(Napi::Env env, Napi::Object exports) {
  exports.Set("createUdp", Napi::Function::New(env, CreateUdp, "createUdp"));
  exports.Set("udpFlushDelaysForTest", Napi::Function::New(env, UdpFlushDelaysForTest, "udpFlushDelaysForTest"));
  exports.Set("hostTimerStormForTest", Napi::Function::New(env, HostTimerStormForTest, "hostTimerStormForTest"));
}

}  // namespace diarkis_node
