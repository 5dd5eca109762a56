// The network-thread side of one DiarkisUdpBase: a connected non-blocking UDP
// socket driven by the sans-I/O UdpSession (native/src/rudp). Every method runs
// on the network thread. During a migration a second socket exists: the old
// node's (oldFd_), which only acknowledges the old node's retransmissions until
// its FIN; it is registered under the same loop key, and readiness reads both.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/loop.h"
#include "io/socket_shim.h"
#include "io/udp_shared.h"
#include "rudp/ring.h"
#include "rudp/udp_session.h"

namespace diarkis {

class UdpConnection final : public LoopHandler {
 public:
  UdpConnection(Loop& loop, uint64_t id, std::shared_ptr<DiarkisUdpBase::Shared> shared,
                std::shared_ptr<const UdpOptions> options, const SessionKeys& keys);
  ~UdpConnection() override;

  // Open and connect the socket, send the first SYN. Failures are reported through the session.
  void start(const sockaddr_storage& addr, socklen_t len, double now);
  // `reserved`: bytes the caller's thread reserved in the budget for this send
  // (unreliable sends too); the session reserves its own before this is released.
  // `body` is only read during the call (the host driver passes the caller's bytes, no copy).
  void send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable, size_t reserved, double now);
  void close(bool graceful, double now);
  void migrate(double now);
  // The host's consumer took the backlog down to its low-water mark: accept DATs again.
  void resumeReceive(double now);

  void onReady(const PollEvent& ev, double now) override;
  void onTimer(double now) override;
  bool judgesSilenceAt(double now) const override { return session_.judgesSilenceAt(now); }
  void flush(double now) override;
  void abandon() override;
  void fail(const char* what) noexcept override;

  // Datagrams waiting for socket room: past this many, new unreliable ones are
  // dropped (counted in sendDropped); ACKs, FINs and reliable DATs are always kept
  // (they are bounded by the reliable window and the receive rate).
  static constexpr size_t kMaxPending = 4096;

 private:
  void readAll(double now);
  bool deliverDatagram(const uint8_t* data, size_t len, double now);
  void readOld(double now);
  bool openSocket(const sockaddr_storage& addr, socklen_t len, double now);
  void applyLinkActions(double now);
  void writeOld();
  void closeOld();
  void collect(bool flush);  // session datagrams -> pending_ (flush: the partly packed DAT too)
  void writeNow(double now);
  void setWantWrite(bool want);
  void settle(double now);  // after any input: events, then teardown or re-arm
  void settleSend(double now);  // after a send: settle's urgent part, the rest at the turn's flush
  void teardown();
  void closeSocket();

  Loop& loop_;
  const uint64_t id_;
  std::shared_ptr<DiarkisUdpBase::Shared> shared_;
  UdpSession session_;
  UniqueSocket fd_;
  UniqueSocket oldFd_;         // the old node's socket during a migration
  bool registered_ = false;
  bool wantWrite_ = false;
  bool blocked_ = false;  // the last send said EAGAIN: wait for writability
  bool gone_ = false;
  rudp::Ring<Bytes> pending_;  // datagrams not yet accepted by the socket (no storage while idle)
  std::vector<Bytes> scratch_;
  std::vector<Bytes> last_;  // a link action's datagrams
  std::vector<Event> events_;
};

}  // namespace diarkis
