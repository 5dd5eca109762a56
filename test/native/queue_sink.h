// A PacketSink over an EventQueue, as the Node host's (bindings/node/event_sink.h),
// for the sessions' tests: the packets a session posts are taken with the arena.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "events/event_queue.h"
#include "events/packet_sink.h"

namespace diarkis::test {

struct QueueSink : PacketSink {
  EventQueue q;
  PacketPost postPacket(uint64_t clientId, const PacketHeader& h, size_t bound, PacketFill fill, void* ctx,
                        DropReason& reason) override {
    bool wasEmpty = false;
    return q.pushPacket(clientId, h, bound, fill, ctx, reason, wasEmpty);
  }
};

// A taken row's payload: in the arena for a packet, its event's own otherwise.
inline std::string payloadOf(const QueueBatch& b, const QueueRow& r) {
  if (!r.packet) return std::string(b.event(r).payload.begin(), b.event(r).payload.end());
  return std::string(b.packetData(r), b.packetData(r) + r.length);
}

}  // namespace diarkis::test
