// CClient<Base>: a client of the C ABI. Its callbacks (network thread) become
// events in the context's queue under the client's C id (EventClient does the
// copying); a disconnect first hands back what was held (DK_EV_MIGRATION_FAILED,
// DK_EV_UNSENT). Room packets (ver 1) go to the client's Room, which turns them
// into DK_EV_ROOM_* events. Nothing here blocks or calls into the host.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "context.h"
#include "diarkis/tcp_client.h"
#include "diarkis/udp_client.h"
#include "events/event_client.h"
#include "room.h"
#include "session/room_rules.h"

namespace diarkis_c {

template <typename Base>
class CClient : public diarkis::EventClient<Base>, public Client {
 public:
  using Event = diarkis::Event;
  using EventType = diarkis::EventType;

  template <typename Options>
  CClient(std::shared_ptr<diarkis::Runtime> rt, Options options, std::shared_ptr<Sink> sink)
      : diarkis::EventClient<Base>(std::move(rt), options),
        sink_(std::move(sink)),
        autoMigrate_(options.autoMigrate),
        room_(diarkis::DiarkisRoomBase::SenderOf(*this),
              [this](const uint8_t* data, size_t len, bool reliable, bool* writable) {
                return this->send(diarkis::room::kVer, diarkis::room::kCmdBroadcast, data, len, reliable, writable);
              },
              [this](Event&& ev) { postEvent(std::move(ev)); }) {}

  void setId(int id) { id_.store(id, std::memory_order_release); }
  std::shared_ptr<diarkis::ReceiveBacklog> backlog() const { return this->ReceiveBacklogOf(); }

  diarkis::ErrorCode connect(const std::string& host, uint16_t port, const diarkis::SessionKeys& keys) override {
    return this->Connect(host, port, keys);
  }
  diarkis::ErrorCode send(uint8_t ver, uint16_t cmd, const uint8_t* data, size_t len, bool reliable,
                          bool* writable) override {
    return reliable ? this->RSend(ver, cmd, data, len, writable) : this->Send(ver, cmd, data, len, writable);
  }
  diarkis::ErrorCode migrate() override { return this->SendMigrate(); }
  void close() override { this->Disconnect(true); }
  diarkis::ClientState state() const override { return this->State(); }
  diarkis::StatsSnapshot stats() const override { return this->GetStats(); }
  Room& room() override { return room_; }

 protected:
  void OnResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len) override {
    if (!room_.onResponse(ver, cmd, status, payload, len)) {
      diarkis::EventClient<Base>::OnResponse(ver, cmd, status, payload, len);
    }
  }
  void OnPush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) override {
    if (!room_.onPush(ver, cmd, payload, len)) diarkis::EventClient<Base>::OnPush(ver, cmd, payload, len);
  }
  void OnOffline() override {
    diarkis::EventClient<Base>::OnOffline();
    room_.onOffline(autoMigrate_);  // automatic mode: the owner moves its room
  }
  void OnError(diarkis::ErrorCode code, const std::string& message) override {
    diarkis::EventClient<Base>::OnError(code, message);
    room_.onError(code);  // RoomMigrationTimeout: DK_EV_ROOM_LEFT follows the DK_EV_ERROR
  }

  void OnDisconnect(diarkis::ErrorCode reason, const std::string& message) override {
    if (reason == diarkis::ErrorCode::MigrationFailed) {
      postEvent(this->coded(EventType::Error, reason, message));  // -> DK_EV_MIGRATION_FAILED
    }
    for (diarkis::UnsentPacket& u : this->TakeUnsent()) {
      Event ev = this->make(EventType::Unsent);
      ev.ver = u.ver;
      ev.cmd = u.cmd;
      ev.status = 1;  // held sends are reliable ones (TCP, or UDP RSend)
      ev.payload = std::move(u.body);
      postEvent(std::move(ev));
    }
    diarkis::EventClient<Base>::OnDisconnect(reason, message);
  }

  void postEvent(Event&& ev) override { sink_->post(id_.load(std::memory_order_acquire), std::move(ev)); }

 private:
  std::shared_ptr<Sink> sink_;
  std::atomic<int> id_{0};
  const bool autoMigrate_;
  Room room_;
};

// The final classes detach first in their destructors, before their vtables go
// (tcp_client.h); they differ only in their liveness callback.
class TcpClient final : public CClient<diarkis::DiarkisTcpBase> {
 public:
  using CClient::CClient;
  ~TcpClient() override { Detach(); }

 protected:
  void OnHeartbeat(double rttMs) override { postLiveness(EventType::Heartbeat, rttMs, std::string()); }
};

class UdpClient final : public CClient<diarkis::DiarkisUdpBase> {
 public:
  using CClient::CClient;
  ~UdpClient() override { Detach(); }

 protected:
  void OnEcho(double rttMs, const std::string& publicAddress) override {
    postLiveness(EventType::Echo, rttMs, publicAddress);
  }
};

}  // namespace diarkis_c
