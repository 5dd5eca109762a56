// How a session hands its application's response or push to the host's PacketSink
// (events/packet_sink.h), shared by TcpSession and UdpSession (issue 9).
#pragma once
#include <cstdint>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "events/packet_sink.h"
#include "session/room_rules.h"

namespace diarkis {
namespace sink {

// An application's packet: nothing in the session reads its body, so it can be
// decrypted straight into the sink. Not a builtin (ver 0), and not the owner's room
// migrate answer while the session waits for one (awaitingRoomAnswer).
inline bool plainPacket(const PacketView& p, bool awaitingRoomAnswer) {
  if (p.ver == wire::kVerBuiltin) return false;
  return !(awaitingRoomAnswer && p.ver == room::kVer && p.status != wire::kStatusPush && p.cmd == room::kCmdMigrate);
}

// Posts p to sink as clientId; the sink's fill decrypts p's payload into its arena.
inline PacketPost post(PacketSink& sink, uint64_t clientId, SessionCrypto& crypto, const PacketView& p,
                       DropReason& reason) {
  struct OpenInto {
    SessionCrypto& crypto;
    const PacketView& p;
    static bool fill(void* ctx, Bytes& arena, DropReason& why) {
      auto* self = static_cast<OpenInto*>(ctx);
      return self->crypto.openAppend(self->p.payload, self->p.len, arena, why);
    }
  };
  PacketHeader h;
  h.type = p.status == wire::kStatusPush ? EventType::Push : EventType::Response;
  h.ver = p.ver;
  h.cmd = p.cmd;
  h.status = p.status;
  OpenInto into{crypto, p};
  return sink.postPacket(clientId, h, p.len, &OpenInto::fill, &into, reason);
}

}  // namespace sink
}  // namespace diarkis
