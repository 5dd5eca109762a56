// JsTcpClient: a DiarkisTcpBase whose callbacks become events on the environment's
// pump, and the exported functions that drive it by integer client id.
#pragma once
#include "napi_include.h"

#include <memory>

#include "diarkis/tcp_client.h"
#include "event_pump.h"

namespace diarkis_node {

// Callbacks run on the network thread: each copies what it needs into an Event
// and posts it; nothing here touches JS or blocks.
class JsTcpClient final : public diarkis::DiarkisTcpBase {
 public:
  JsTcpClient(std::shared_ptr<diarkis::Runtime> runtime, diarkis::TcpOptions options,
              std::shared_ptr<EventPump> pump)
      : DiarkisTcpBase(std::move(runtime), options), pump_(std::move(pump)) {}
  // Hazard: a callback running into a half-destroyed subclass. Detach() first
  // blocks until the network thread holds no reference to this object.
  ~JsTcpClient() override { Detach(); }

 protected:
  void OnConnect(bool reconnected) override;
  void OnDisconnect(diarkis::ErrorCode reason, const std::string& message) override;
  void OnOffline() override;
  void OnResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len) override;
  void OnPush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) override;
  void OnHeartbeat(double rttMs) override;
  void OnMigrated(const diarkis::MigrationInfo& info) override;
  void OnDrain() override;
  void OnError(diarkis::ErrorCode code, const std::string& message) override;

 private:
  void post(diarkis::Event&& ev) { pump_->post(Id(), std::move(ev)); }
  std::shared_ptr<EventPump> pump_;  // keeps the pump alive while callbacks can run
};

// Adds setEventHandler, create, connect, send, close, release, ref, unref, state,
// stats, pumpStats and the code tables to the module's exports.
void registerTcpClientExports(Napi::Env env, Napi::Object exports);

}  // namespace diarkis_node
