// EventClient<Base>: a DiarkisTcpBase or DiarkisUdpBase whose callbacks (on the
// network thread) become diarkis::Event values handed to postEvent(), for hosts
// that queue events instead of handling them in callbacks (the C ABI's dk_poll;
// the Node addon's pump can use it too). Copies what the callbacks lend (payload
// bytes, strings); never blocks. Liveness callbacks (TCP OnHeartbeat, UDP OnEcho)
// differ per transport: the final class forwards them to postLiveness().
#pragma once
#include <string>
#include <utility>

#include "diarkis/event.h"
#include "diarkis/tcp_client.h"

namespace diarkis {

template <typename Base>
class EventClient : public Base {
 public:
  using Base::Base;

 protected:
  // Network thread (or the CallbackQueue's poller). Must not block.
  virtual void postEvent(Event&& ev) = 0;

  void OnConnect(bool reconnected) override {
    Event ev = make(EventType::Connect);
    ev.reconnected = reconnected;
    postEvent(std::move(ev));
  }
  void OnDisconnect(ErrorCode reason, const std::string& message) override {
    postEvent(coded(EventType::Disconnect, reason, message));
  }
  void OnOffline() override { postEvent(make(EventType::Offline)); }
  void OnResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len) override {
    postEvent(packet(EventType::Response, ver, cmd, status, payload, len));
  }
  void OnPush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) override {
    postEvent(packet(EventType::Push, ver, cmd, wire::kStatusPush, payload, len));
  }
  void OnMigrated(const MigrationInfo& info) override {
    Event ev = make(EventType::Migrated);
    ev.from = info.from;
    ev.address = info.to;
    ev.rttMs = info.tookMs;
    postEvent(std::move(ev));
  }
  void OnDrain() override { postEvent(make(EventType::Drain)); }
  void OnError(ErrorCode code, const std::string& message) override {
    postEvent(coded(EventType::Error, code, message));
  }

  // Heartbeat (TCP) or Echo (UDP, with our public address).
  void postLiveness(EventType type, double rttMs, const std::string& address) {
    Event ev = make(type);
    ev.rttMs = rttMs;
    ev.address = address;
    postEvent(std::move(ev));
  }

  static Event make(EventType type) {
    Event ev;
    ev.type = type;
    return ev;
  }
  static Event coded(EventType type, ErrorCode code, const std::string& message) {
    Event ev = make(type);
    ev.code = code;
    ev.message = message;
    return ev;
  }
  static Event packet(EventType type, uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len) {
    Event ev = make(type);
    ev.ver = ver;
    ev.cmd = cmd;
    ev.status = status;
    if (len > 0) ev.payload.assign(payload, payload + len);  // the core's buffer is not ours to keep
    return ev;
  }
};

}  // namespace diarkis
