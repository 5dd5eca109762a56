// JsTcpClient: a DiarkisTcpBase whose callbacks become events on the environment's
// pump, and the exported functions that drive any client by integer id.
#pragma once
#include "napi_include.h"

#include <memory>
#include <vector>

#include "diarkis/tcp_client.h"
#include "js_client.h"

namespace diarkis_node {

class JsTcpClient final : public JsClientOf<diarkis::DiarkisTcpBase> {
 public:
  using JsClientOf::JsClientOf;
  // Hazard: a callback running into a half-destroyed subclass. Detach() first
  // blocks until the network thread holds no reference to this object.
  ~JsTcpClient() override { Detach(); }

  diarkis::ErrorCode migrate() override { return SendMigrate(); }
  diarkis::ErrorCode sendInPlace(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len,
                                 bool* writable) override {
    return SendInPlace(ver, cmd, body, len, writable);
  }
  void settleSends() override { SettleSends(); }
  uint64_t queuedBytes() const override { return QueuedBytes(); }
  std::vector<diarkis::UnsentPacket> takeUnsent() override { return TakeUnsent(); }
};

// Adds setEventHandler, create, connect, send, close, release, ref, unref, state,
// stats, pumpStats and the code tables to the module's exports. connect/send/...
// take the id of any client (TCP or UDP).
void registerTcpClientExports(Napi::Env env, Napi::Object exports);

}  // namespace diarkis_node
