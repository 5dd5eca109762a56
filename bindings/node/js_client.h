// JsClient: what the exported functions see of a client, whatever its transport,
// and JsClientOf<Base>: a DiarkisTcpBase or DiarkisUdpBase whose callbacks become
// events on the environment's pump. The transports' wraps (tcp_client_wrap.h,
// udp_client_wrap.h) only add their own callbacks (heartbeat / echo).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "diarkis/tcp_client.h"
#include "event_sink.h"

namespace diarkis_node {

class JsClient {
 public:
  virtual ~JsClient() = default;
  virtual int id() const = 0;
  virtual diarkis::ErrorCode connect(const std::string& host, uint16_t port, const diarkis::SessionKeys& keys) = 0;
  // reliable: RSend (on TCP the same as Send).
  virtual diarkis::ErrorCode send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable,
                                  bool* writable) = 0;
  virtual void disconnect(bool graceful) = 0;
  virtual diarkis::ClientState state() const = 0;
  virtual diarkis::StatsSnapshot stats() const = 0;
  // Live migration; transports without it (yet) keep these defaults.
  virtual diarkis::ErrorCode migrate() { return diarkis::ErrorCode::NotConnected; }
  virtual std::vector<diarkis::UnsentPacket> takeUnsent() { return {}; }
};

// Callbacks run on the network thread: each copies what it needs into an Event
// and posts it; nothing here touches JS or blocks. The final class MUST call
// Detach() first in its destructor (see tcp_client.h), before its own vtable goes.
template <typename Base>
class JsClientOf : public Base, public JsClient {
 public:
  template <typename Options>
  JsClientOf(std::shared_ptr<diarkis::Runtime> runtime, Options options, std::shared_ptr<EventSink> pump)
      : Base(std::move(runtime), std::move(options)), pump_(std::move(pump)) {}

  int id() const override { return this->Id(); }
  diarkis::ErrorCode connect(const std::string& host, uint16_t port, const diarkis::SessionKeys& keys) override {
    return this->Connect(host, port, keys);
  }
  diarkis::ErrorCode send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable,
                          bool* writable) override {
    return reliable ? this->RSend(ver, cmd, body, len, writable) : this->Send(ver, cmd, body, len, writable);
  }
  void disconnect(bool graceful) override { this->Disconnect(graceful); }
  diarkis::ClientState state() const override { return this->State(); }
  diarkis::StatsSnapshot stats() const override { return this->GetStats(); }

 protected:
  using Event = diarkis::Event;
  using EventType = diarkis::EventType;

  void OnConnect(bool reconnected) override {
    Event ev;
    ev.type = EventType::Connect;
    ev.reconnected = reconnected;
    post(std::move(ev));
  }
  void OnDisconnect(diarkis::ErrorCode reason, const std::string& message) override {
    Event ev;
    ev.type = EventType::Disconnect;
    ev.code = reason;
    ev.message = message;
    post(std::move(ev));
  }
  void OnOffline() override {
    Event ev;
    ev.type = EventType::Offline;
    post(std::move(ev));
  }
  void OnResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len) override {
    Event ev;
    ev.type = EventType::Response;
    ev.ver = ver;
    ev.cmd = cmd;
    ev.status = status;
    if (len > 0) ev.payload.assign(payload, payload + len);  // the core's buffer is not ours to keep
    post(std::move(ev));
  }
  void OnPush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) override {
    Event ev;
    ev.type = EventType::Push;
    ev.ver = ver;
    ev.cmd = cmd;
    ev.status = diarkis::wire::kStatusPush;
    if (len > 0) ev.payload.assign(payload, payload + len);
    post(std::move(ev));
  }
  void OnMigrated(const diarkis::MigrationInfo& info) override {
    Event ev;
    ev.type = EventType::Migrated;
    ev.from = info.from;
    ev.address = info.to;
    ev.rttMs = info.tookMs;
    post(std::move(ev));
  }
  void OnDrain() override {
    Event ev;
    ev.type = EventType::Drain;
    post(std::move(ev));
  }
  void OnError(diarkis::ErrorCode code, const std::string& message) override {
    Event ev;
    ev.type = EventType::Error;
    ev.code = code;
    ev.message = message;
    post(std::move(ev));
  }

  void post(Event&& ev) { pump_->post(this->Id(), std::move(ev)); }

 private:
  std::shared_ptr<EventSink> pump_;  // keeps the sink alive while callbacks can run
};

}  // namespace diarkis_node
