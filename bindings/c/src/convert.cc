#include "convert.h"

#include <cstddef>
#include <cstring>

namespace diarkis_c {
namespace {

constexpr size_t kOptionsV1 = offsetof(dk_options, client_key) + sizeof(const char*);
constexpr size_t kOptionsReceive = offsetof(dk_options, max_receive_stall_ms) + sizeof(uint32_t);
constexpr size_t kEndpointV1 = offsetof(dk_endpoint, mac_key_hex) + sizeof(const char*);

template <class Options>
bool common(const dk_options* in, Options& out) {
  if (in == nullptr) {
    out.autoMigrate = true;  // the C ABI's default (the C++ SDK's is manual)
    return true;
  }
  if (in->struct_size < kOptionsV1) return false;
  if (in->migration != DK_MIGRATION_AUTO && in->migration != DK_MIGRATION_MANUAL) return false;
  out.autoMigrate = in->migration == DK_MIGRATION_AUTO;
  if (in->connect_timeout_ms != 0) out.connectTimeoutMs = in->connect_timeout_ms;
  if (in->handoff_ttl_ms != 0) out.handoffTtlMs = in->handoff_ttl_ms;
  if (in->high_water_mark != 0) out.highWaterMark = in->high_water_mark;
  if (in->max_queued_bytes != 0) out.maxQueuedBytes = in->max_queued_bytes;
  if (in->struct_size >= kOptionsReceive) {
    if (in->receive_high_water_mark != 0) out.receiveHighWaterMark = in->receive_high_water_mark;
    if (in->max_receive_stall_ms != 0) out.maxReceiveStallMs = in->max_receive_stall_ms;
  }
  return out.highWaterMark <= out.maxQueuedBytes;
}

bool hexOrEmpty(const char* hex, diarkis::Key16& out, bool& empty) {
  empty = hex == nullptr || hex[0] == '\0';
  return empty || diarkis::parseHex16(hex, out);
}

}  // namespace

bool toTcpOptions(const dk_options* in, diarkis::TcpOptions& out) {
  if (!common(in, out)) return false;
  if (in != nullptr && in->heartbeat_interval_ms != 0) out.heartbeatIntervalMs = in->heartbeat_interval_ms;
  return true;  // client_key: TCP nodes take none (it goes to the endpoint API only)
}

bool toUdpOptions(const dk_options* in, diarkis::UdpOptions& out) {
  if (!common(in, out)) return false;
  if (in == nullptr) return true;
  if (in->heartbeat_interval_ms != 0) out.echoIntervalMs = in->heartbeat_interval_ms;
  if (in->client_key != nullptr) out.clientKey = in->client_key;
  return true;
}

bool toEndpoint(const dk_endpoint* in, std::string& host, diarkis::SessionKeys& keys) {
  if (in == nullptr || in->struct_size < kEndpointV1 || in->host == nullptr || in->sid_hex == nullptr) return false;
  host = in->host;
  if (!diarkis::parseHex16(in->sid_hex, keys.sid)) return false;
  bool e1 = false, e2 = false, e3 = false;
  if (!hexOrEmpty(in->key_hex, keys.key, e1) || !hexOrEmpty(in->iv_hex, keys.iv, e2) ||
      !hexOrEmpty(in->mac_key_hex, keys.macKey, e3)) {
    return false;
  }
  if (e1 != e2 || e2 != e3) return false;  // all three keys or none
  keys.encrypted = !e1;
  return true;
}

namespace {
int32_t dkType(const diarkis::Event& ev) {
  using T = diarkis::EventType;
  switch (ev.type) {
    case T::Connect: return DK_EV_CONNECT;
    case T::Disconnect: return DK_EV_DISCONNECT;
    case T::Offline: return DK_EV_OFFLINE;
    case T::Response: return DK_EV_RESPONSE;
    case T::Push: return DK_EV_PUSH;
    case T::Heartbeat: return DK_EV_HEARTBEAT;
    case T::Echo: return DK_EV_ECHO;
    case T::Migrated: return DK_EV_MIGRATED;
    case T::Drain: return DK_EV_DRAIN;
    case T::Unsent: return DK_EV_UNSENT;
    case T::Room: return ev.cmd;  // the DK_EV_ROOM_* number (room.h)
    case T::Error:
      return ev.code == diarkis::ErrorCode::NoTarget || ev.code == diarkis::ErrorCode::MigrationFailed
                 ? DK_EV_MIGRATION_FAILED
                 : DK_EV_ERROR;
  }
  return DK_EV_ERROR;
}
}  // namespace

void toEvent(int client, diarkis::Event& ev, dk_event& out) {
  // dk_event.text: the message, or what the event carries in its address fields.
  if (ev.type == diarkis::EventType::Migrated) ev.message = ev.from + " " + ev.address;
  else if (ev.type == diarkis::EventType::Echo) ev.message = ev.address;
  const std::string& text = ev.message;
  std::memset(&out, 0, sizeof out);
  out.client = client;
  out.type = dkType(ev);
  out.code = dkCode(ev.code);
  if (ev.type == diarkis::EventType::Room) {  // room.h: text2 in address, value in rttMs
    out.status = ev.status;
    out.len = static_cast<uint32_t>(ev.payload.size());
    out.payload = ev.payload.empty() ? nullptr : ev.payload.data();
    out.text = text.empty() ? nullptr : text.c_str();
    out.text2 = ev.address.empty() ? nullptr : ev.address.c_str();
    out.value = ev.rttMs;
    return;
  }
  out.ver = ev.ver;
  out.status = ev.type == diarkis::EventType::Push ? 0 : ev.status;  // a push has no status
  out.cmd = ev.cmd;
  out.len = static_cast<uint32_t>(ev.payload.size());
  out.payload = ev.payload.empty() ? nullptr : ev.payload.data();
  out.text = text.empty() ? nullptr : text.c_str();
  if (ev.type == diarkis::EventType::Connect) out.value = ev.reconnected ? 1 : 0;
  else out.value = ev.rttMs;
}

void toStats(const diarkis::StatsSnapshot& s, dk_stats& out) {
  out.reserved0 = 0;
  out.packets_sent = s.packetsSent;
  out.packets_received = s.packetsReceived;
  out.bytes_sent = s.bytesSent;
  out.bytes_received = s.bytesReceived;
  out.retransmits = s.retransmits;
  out.migrations = s.migrations;
  out.queued_bytes = s.queuedBytes;
  uint64_t dropped = 0;
  for (uint64_t d : s.drops) dropped += d;
  out.dropped = dropped;
  if (out.struct_size >= offsetof(dk_stats, receive_pauses) + sizeof(uint64_t)) {
    out.undelivered_bytes = s.undeliveredBytes;
    out.receive_pauses = s.receivePauses;
  }
}

}  // namespace diarkis_c
