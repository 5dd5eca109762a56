// State a DiarkisUdpBase shares with its network-thread side (UdpConnection):
// the common part (client_common.h) plus what the caller's size checks need.
#pragma once
#include <atomic>
#include <cstddef>
#include <vector>

#include "diarkis/udp_client.h"
#include "io/client_common.h"

namespace diarkis {

class UdpConnection;

// The budget holds reliable bytes: reserved by RSend on the caller's thread (so
// QueueFull and `writable` are answered at once), handed over to the session's
// own reservation on the network thread, released as DATs are acknowledged.
struct DiarkisUdpBase::Shared : ClientShared<DiarkisUdpBase, UdpConnection> {
  explicit Shared(const UdpOptions& o)
      : ClientShared(o.highWaterMark, o.maxQueuedBytes, o.callbacks, o.receiveHighWaterMark),
        highWaterMark(o.highWaterMark) {}

  void deliver(std::vector<Event>& events) {
    deliverWith(events, [](DiarkisUdpBase& o, Event& ev) { o.dispatch(ev); });
  }

  std::atomic<bool> encrypted{true};  // set by Connect, read by Send's size check
  const size_t highWaterMark;
};

}  // namespace diarkis
