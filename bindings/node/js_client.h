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
  virtual uint64_t id() const = 0;
  virtual diarkis::ErrorCode connect(const std::string& host, uint16_t port, const diarkis::SessionKeys& keys) = 0;
  // reliable: RSend (on TCP the same as Send).
  virtual diarkis::ErrorCode send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable,
                                  bool* writable) = 0;
  virtual void disconnect(bool graceful) = 0;
  // Batched sends (send_batch.cc): TCP encodes in place and settles once per batch;
  // other transports send each at once.
  virtual diarkis::ErrorCode sendInPlace(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len,
                                         bool* writable) {
    return send(ver, cmd, body, len, true, writable);
  }
  virtual void settleSends() {}
  virtual uint64_t queuedBytes() const { return stats().queuedBytes; }
  virtual diarkis::ClientState state() const = 0;
  virtual diarkis::StatsSnapshot stats() const = 0;
  // Live migration; transports without it (yet) keep these defaults.
  virtual diarkis::ErrorCode migrate() { return diarkis::ErrorCode::NotConnected; }
  virtual std::vector<diarkis::UnsentPacket> takeUnsent() { return {}; }
};

// Events arrive on the runtime's thread (the network thread, or the host loop's)
// and are posted whole to the sink; nothing here touches JS or blocks. The final class MUST call
// Detach() first in its destructor (see tcp_client.h), before its own vtable goes.
template <typename Base>
class JsClientOf : public Base, public JsClient {
 public:
  template <typename Options>
  JsClientOf(std::shared_ptr<diarkis::Runtime> runtime, Options options, std::shared_ptr<EventSink> pump)
      : Base(std::move(runtime), std::move(options)), pump_(std::move(pump)) {
    pump_->track(this->Id(), this->ReceiveBacklogOf());
    this->SetPacketSink(pump_);  // responses and pushes: decrypted into the pump's queue
  }

  uint64_t id() const override { return this->Id(); }
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

  // Every event goes to the sink whole: its payload is moved, never copied here.
  bool TakeEvent(Event& ev) override {
    if (ev.type == EventType::Push) ev.status = diarkis::wire::kStatusPush;  // notifications are pushes to JS
    post(std::move(ev));
    return true;
  }

  void post(Event&& ev) { pump_->post(this->Id(), std::move(ev)); }

 private:
  std::shared_ptr<EventSink> pump_;  // keeps the sink alive while callbacks can run
};

}  // namespace diarkis_node
