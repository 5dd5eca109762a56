// QueueBatch: what an EventQueue hands its consumer in one take, and the layout
// the queue itself keeps (issue 9, a lean queue record).
//
// One 32-byte row per queued item, in queue order. A packet (a Response or Push
// the session decrypted into the arena, EventQueue::pushPacket) is its row alone:
// client, header fields, arena offset and length. Anything else (a Connect, an
// Error, a large payload) is a full Event in `events`, its row pointing at it by
// index; rows refer to events in increasing index order, so a prefix of the rows
// takes a prefix of the events, as it takes a prefix of the arena.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "diarkis/event.h"

namespace diarkis {

struct QueueRow {
  uint64_t clientId = 0;
  // A packet: its payload's offset in the arena; an event: its index in events.
  uint64_t at = 0;
  uint32_t length = 0;  // a packet's payload length (at most the arena's packet limit)
  EventType type = EventType::Error;  // the event's type too (Disconnect is found without it)
  uint8_t ver = 0;
  uint16_t cmd = 0;
  uint8_t status = 0;
  bool packet = false;
};
static_assert(sizeof(QueueRow) == 32, "a queue row is 32 bytes (one per message written under the lock)");

struct QueueBatch {
  std::vector<QueueRow> rows;
  std::vector<Event> events;  // the rows that are not packets, by QueueRow::at
  Bytes arena;                // the packets' payloads, at their rows' offsets

  bool empty() const { return rows.empty(); }
  size_t size() const { return rows.size(); }
  // Capacity kept (the queue and its consumer swap these on a whole take).
  void clear() {
    rows.clear();
    events.clear();
    arena.clear();
  }
  const Event& event(const QueueRow& r) const { return events[static_cast<size_t>(r.at)]; }
  Event& event(const QueueRow& r) { return events[static_cast<size_t>(r.at)]; }
  const uint8_t* packetData(const QueueRow& r) const { return arena.data() + r.at; }
};

}  // namespace diarkis
