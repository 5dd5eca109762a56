// What a session reports to its owner. Produced by the sans-I/O layers, turned
// into virtual calls by DiarkisTcpBase/DiarkisUdpBase, and into JS events by the bindings.
#pragma once
#include <string>

#include "diarkis/codec.h"
#include "diarkis/errors.h"

namespace diarkis {

enum class EventType : uint8_t {
  Connect,     // reconnected
  Disconnect,  // code (+ message)
  Offline,     // the node is going offline (once per node)
  Response,    // ver, cmd, status, payload (decrypted body)
  Push,        // ver, cmd, payload
  Heartbeat,   // TCP heartbeat answered; rttMs
  Echo,        // UDP echo answered; rttMs, address = public ip:port
  Migrated,    // from, address = to, tookMs in rttMs
  Drain,       // queued bytes fell below the low-water mark after a refused send
  Error,       // non-fatal error: code (+ message), e.g. bad-mac drops
  Unsent,      // a held send handed back (ver, cmd, payload); made by hosts from TakeUnsent()
  Room,        // a room event made by a host's DiarkisRoomBase adapter (the C ABI), never by a
               // session; its fields are that host's (bindings/c/src/room.h)
};

struct Event {
  EventType type = EventType::Error;
  uint8_t ver = 0;
  uint16_t cmd = 0;
  uint8_t status = 0;
  bool reconnected = false;
  ErrorCode code = ErrorCode::None;
  double rttMs = 0;  // Heartbeat/Echo: round trip; Migrated: tookMs
  Bytes payload;
  std::string message;  // Disconnect/Error: human text
  std::string address;  // Echo: public address; Migrated: target host:port
  std::string from;     // Migrated: old node host:port
};

}  // namespace diarkis
