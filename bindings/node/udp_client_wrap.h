// JsUdpClient: a DiarkisUdpBase whose callbacks become events on the environment's
// pump, and createUdp(options). Every other function (connect, send, close, ...)
// is shared with TCP and takes the client's id (tcp_client_wrap.h).
#pragma once
#include "napi_include.h"

#include <memory>
#include <string>
#include <vector>

#include "diarkis/udp_client.h"
#include "js_client.h"

namespace diarkis_node {

class JsUdpClient final : public JsClientOf<diarkis::DiarkisUdpBase> {
 public:
  using JsClientOf::JsClientOf;
  // Hazard: a callback running into a half-destroyed subclass (see JsTcpClient).
  ~JsUdpClient() override { Detach(); }
  diarkis::ErrorCode migrate() override { return SendMigrate(); }
  std::vector<diarkis::UnsentPacket> takeUnsent() override { return TakeUnsent(); }
};

void registerUdpClientExports(Napi::Env env, Napi::Object exports);

}  // namespace diarkis_node
