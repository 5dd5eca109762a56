// The network-thread side of one DiarkisTcpBase: a non-blocking socket driven by
// a TcpSession. Every method runs on the network thread.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "io/loop.h"
#include "io/socket_shim.h"
#include "io/tcp_shared.h"
#include "session/tcp_session.h"

namespace diarkis {

// Numeric IPv4/IPv6 host ("127.0.0.1", "::1", "[::1]") + port -> address. False if not numeric.
bool parseNumericAddress(const std::string& host, uint16_t port, sockaddr_storage& out, socklen_t& len);
// address -> "host:port" ("[v6]:port").
std::string formatAddress(const sockaddr_storage& addr);

class TcpConnection final : public LoopHandler {
 public:
  TcpConnection(Loop& loop, uint64_t id, std::shared_ptr<DiarkisTcpBase::Shared> shared,
                const TcpOptions& options, const SessionKeys& keys);
  ~TcpConnection() override;

  // Begin the non-blocking connect. Failures are reported through the session.
  void start(const sockaddr_storage& addr, socklen_t len, double now);
  void send(Bytes&& packet, double now);
  // The host-loop driver's batched sends: encode into the session's output with no
  // settle; settleSends() once after the run (one write, one events delivery).
  ErrorCode sendInPlace(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable) {
    return session_.send(ver, cmd, body, len, writable);
  }
  void settleSends(double now) { settle(now); }
  void close(bool graceful, double now);
  void migrate(double now);
  // The host's consumer took the backlog down to its low-water mark: read again.
  void resumeReceive(double now);

  void onReady(const PollEvent& ev, double now) override;
  void onTimer(double now) override;
  void flush(double now) override;
  void abandon() override;
  void fail(const char* what) noexcept override;

 private:
  void openSocket(const sockaddr_storage& addr, socklen_t len, double now);
  // Migration: hand the old socket to a drainer / drop a failed one / connect the target.
  void applySocketActions(double now);
  void releaseSocket();
  void finishConnect(double now);
  void readAll(double now);
  // Events out of the session to the owner; true when reading must pause.
  bool deliverAndCheck();
  void pauseReceive(double now);
  void writeNow(double now);
  void setWantWrite(bool want);
  // After any input: deliver events, then tear down or re-arm timer and output.
  void settle(double now);
  void teardown();
  void closeSocket();

  Loop& loop_;
  const uint64_t id_;
  std::shared_ptr<DiarkisTcpBase::Shared> shared_;
  TcpSession session_;
  UniqueSocket fd_;
  bool registered_ = false;
  bool connected_ = false;
  bool wantWrite_ = false;
  bool blocked_ = false;  // the last send() said EAGAIN
  bool readPaused_ = false;  // the receive backlog is full: the socket is out of the poller
  bool gone_ = false;
  std::vector<Event> events_;
};

}  // namespace diarkis
