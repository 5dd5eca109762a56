// PacketSink: where a session puts a received Response or Push whose payload it
// can write straight into its host's event queue (EventQueue::pushPacket): no
// Event with a heap payload per message, no copy between the decryption and the
// memory the host hands its consumer (issue 9, the response path).
//
// The session calls post() only when nothing it emitted earlier is still waiting
// in its own event list (so the queue's order is the session's order); `fill`
// appends the payload to the arena it is given (the decryption) and returns false,
// with a reason, when the packet is unusable: nothing is queued then.
#pragma once
#include <cstddef>
#include <cstdint>

#include "diarkis/codec.h"
#include "diarkis/event.h"

namespace diarkis {

struct PacketHeader {
  EventType type = EventType::Response;  // Response or Push
  uint8_t ver = 0;
  uint16_t cmd = 0;
  uint8_t status = 0;
};

// Appends at most `bound` bytes to arena. False (arena unchanged) on a bad packet.
using PacketFill = bool (*)(void* ctx, Bytes& arena, DropReason& reason);

enum class PacketPost : uint8_t {
  Queued,    // in the queue
  Declined,  // larger than the sink takes in its arena: the caller uses its own path
  Failed,    // fill returned false (reason set): nothing queued
  Dropped,   // the queue is closed (the host is going away): counted, nothing queued
};

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  // The runtime's thread. bound: the most bytes fill may append (the sealed length).
  virtual PacketPost postPacket(uint64_t clientId, const PacketHeader& h, size_t bound, PacketFill fill, void* ctx,
                                DropReason& reason) = 0;
};

}  // namespace diarkis
