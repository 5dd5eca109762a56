// Stats::snapshot: copies every counter with relaxed loads (each value exact,
// the set not taken at one instant, as stats.h documents).
#include "diarkis/stats.h"

namespace diarkis {

StatsSnapshot Stats::snapshot() const {
  StatsSnapshot s;
  constexpr auto relaxed = std::memory_order_relaxed;
  s.packetsSent = packetsSent.load(relaxed);
  s.packetsReceived = packetsReceived.load(relaxed);
  s.bytesSent = bytesSent.load(relaxed);
  s.bytesReceived = bytesReceived.load(relaxed);
  s.retransmits = retransmits.load(relaxed);
  s.heartbeatsSent = heartbeatsSent.load(relaxed);
  s.heartbeatsAnswered = heartbeatsAnswered.load(relaxed);
  s.migrations = migrations.load(relaxed);
  s.queuedBytes = queuedBytes.load(relaxed);
  s.reassemblyBytes = reassemblyBytes.load(relaxed);
  s.sendDropped = sendDropped.load(relaxed);
  s.receivePauses = receivePauses.load(relaxed);
  s.receiveDeferred = receiveDeferred.load(relaxed);
  for (size_t i = 0; i < s.drops.size(); ++i) s.drops[i] = drops[i].load(relaxed);
  return s;
}

}  // namespace diarkis
