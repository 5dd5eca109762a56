// Per-client counters. Written on the network thread, read from any thread
// (relaxed atomics: each counter is exact, a snapshot is not one instant).
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "diarkis/errors.h"

namespace diarkis {

struct StatsSnapshot {
  uint64_t packetsSent = 0;
  uint64_t packetsReceived = 0;
  uint64_t bytesSent = 0;       // bytes handed to the socket (headers included)
  uint64_t bytesReceived = 0;   // bytes read from the socket
  uint64_t retransmits = 0;     // UDP: RDATs sent
  uint64_t heartbeatsSent = 0;  // TCP heartbeats / UDP echoes
  uint64_t heartbeatsAnswered = 0;
  uint64_t migrations = 0;      // completed migrations
  uint64_t queuedBytes = 0;     // bytes accepted by Send and not yet written / acknowledged
  uint64_t reassemblyBytes = 0; // UDP: bytes of the partial fragmented message held (<= max payload)
  uint64_t sendDropped = 0;     // UDP: unreliable datagrams dropped, the socket's send queue full
  uint64_t undeliveredBytes = 0; // received events a host queued and its consumer has not taken yet
  uint64_t receivePauses = 0;   // times reading paused at the receive high-water mark
  uint64_t receiveDeferred = 0; // UDP: reliable DATs refused while paused (not acknowledged: resent later)
  std::array<uint64_t, static_cast<size_t>(DropReason::Count)> drops{};
};

class Stats {
 public:
  void add(std::atomic<uint64_t> Stats::*field, uint64_t n = 1) {
    (this->*field).fetch_add(n, std::memory_order_relaxed);
  }
  void drop(DropReason r) { drops[static_cast<size_t>(r)].fetch_add(1, std::memory_order_relaxed); }
  StatsSnapshot snapshot() const;

  std::atomic<uint64_t> packetsSent{0};
  std::atomic<uint64_t> packetsReceived{0};
  std::atomic<uint64_t> bytesSent{0};
  std::atomic<uint64_t> bytesReceived{0};
  std::atomic<uint64_t> retransmits{0};
  std::atomic<uint64_t> heartbeatsSent{0};
  std::atomic<uint64_t> heartbeatsAnswered{0};
  std::atomic<uint64_t> migrations{0};
  std::atomic<uint64_t> queuedBytes{0};
  std::atomic<uint64_t> reassemblyBytes{0};
  std::atomic<uint64_t> sendDropped{0};
  std::atomic<uint64_t> receivePauses{0};
  std::atomic<uint64_t> receiveDeferred{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(DropReason::Count)> drops{};
};

}  // namespace diarkis
