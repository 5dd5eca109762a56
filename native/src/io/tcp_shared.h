// State a DiarkisTcpBase shares with its network-thread side (TcpConnection):
// the common part (client_common.h) plus TCP's caller-thread encryption.
#pragma once
#include <memory>
#include <mutex>
#include <vector>

#include "diarkis/tcp_client.h"
#include "io/client_common.h"

namespace diarkis {

class TcpConnection;

struct DiarkisTcpBase::Shared : ClientShared<DiarkisTcpBase, TcpConnection> {
  explicit Shared(const TcpOptions& o)
      : ClientShared(o.highWaterMark, o.maxQueuedBytes, o.callbacks, o.receiveHighWaterMark),
        lingerMs(o.lingerMs) {}

  void deliver(std::vector<Event>& events) {
    deliverWith(events, [](DiarkisTcpBase& o, Event& ev) { o.dispatch(ev); });
  }

  // Caller-thread encryption: a SessionCrypto of its own (not thread-safe, so
  // under sendMu), never the network thread's. Posting under the same lock keeps
  // the packets of concurrent Send calls in the order they were encoded.
  std::mutex sendMu;
  std::unique_ptr<SessionCrypto> sendCrypto;

  const double lingerMs;  // the old socket's drain bound after a migrate answer
};

}  // namespace diarkis
