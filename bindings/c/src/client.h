// CClient<Base>: a client of the C ABI. Its callbacks (network thread) become
// events in the context's queue under the client's C id (EventClient does the
// copying); a disconnect first hands back what was held (DK_EV_MIGRATION_FAILED,
// DK_EV_UNSENT). Nothing here blocks or calls into the host.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <utility>

#include "context.h"
#include "diarkis/tcp_client.h"
#include "diarkis/udp_client.h"
#include "events/event_client.h"

namespace diarkis_c {

template <typename Base>
class CClient : public diarkis::EventClient<Base>, public Client {
 public:
  using Event = diarkis::Event;
  using EventType = diarkis::EventType;

  template <typename Options>
  CClient(std::shared_ptr<diarkis::Runtime> rt, Options options, std::shared_ptr<Sink> sink)
      : diarkis::EventClient<Base>(std::move(rt), std::move(options)), sink_(std::move(sink)) {}

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

 protected:
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
