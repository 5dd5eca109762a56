// Client-side room rules shared by TcpSession and UdpSession (PROTOCOL section 10, ours):
// which answers make the client a room member, and the owner's migrate request.
#pragma once
#include <cstdint>

#include <utility>

#include "diarkis/codec.h"
#include "diarkis/event.h"

namespace diarkis {
namespace room {

constexpr uint8_t kVer = 1;
constexpr uint16_t kCmdCreate = 1;
constexpr uint16_t kCmdJoin = 2;
constexpr uint16_t kCmdLeave = 3;
constexpr uint16_t kCmdBroadcast = 4;
constexpr uint16_t kCmdMigrate = 7;

// The membership an OK answer implies: +1 joined (create/join), -1 left, 0 no change.
template <typename P>  // Packet or PacketView
int membershipChange(const P& p) {
  if (p.ver != kVer || p.status != wire::kStatusOk) return 0;
  if (p.cmd == kCmdCreate || p.cmd == kCmdJoin) return 1;
  if (p.cmd == kCmdLeave) return -1;
  return 0;
}

// The owner's 1/7 is a migrate request: sends after it are held until it is answered.
inline bool isRoomMigrateRequest(uint8_t ver, uint16_t cmd) { return ver == kVer && cmd == kCmdMigrate; }

// The Response event of the owner's 1/7 (the application's request resolves with it).
inline Event migrateResponse(uint8_t status, Bytes body) {
  Event ev;
  ev.type = EventType::Response;
  ev.ver = kVer;
  ev.cmd = kCmdMigrate;
  ev.status = status;
  ev.payload = std::move(body);
  return ev;
}

// Auto mode, in a room, the handoff TTL ran out: the client migrates alone and leaves the room.
inline Event waitTimedOut() {
  Event ev;
  ev.type = EventType::Error;
  ev.code = ErrorCode::RoomMigrationTimeout;
  ev.message = "the room did not migrate within the handoff TTL; migrating alone and leaving the room";
  return ev;
}

// A server-started migration push, as the OK migrate answer the session already handles.
template <typename P>  // Packet or PacketView (its payload is not carried)
P pushAsAnswer(const P& p) {
  P ok;
  ok.ver = p.ver;
  ok.cmd = p.cmd;
  ok.status = wire::kStatusOk;
  return ok;
}

}  // namespace room
}  // namespace diarkis
