// DiarkisUdpBase: the UDP (RUDP) client of the Diarkis realtime protocol,
// mirroring the C++ SDK's class of the same name. Subclass it and override the
// On* callbacks.
//
// Threading (see runtime.h): public methods are thread-safe and never block on the
// network, except Detach(). Callbacks run on the network thread and must not block,
// unless options.callbacks names a CallbackQueue: then they run where it is polled.
//
// Ownership: the runtime refers to a client by its integer Id(). A subclass MUST
// call Detach() at the start of its destructor: Detach() blocks until the network
// thread holds no reference to this object, so no callback can run into a
// half-destroyed subclass. Detach() from inside a callback is allowed and returns
// at once (the client is dropped when the callback returns). The base destructor
// calls Detach() too, as a safety net for subclasses without callbacks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diarkis/crypto.h"
#include "diarkis/errors.h"
#include "diarkis/event.h"
#include "diarkis/runtime.h"
#include "diarkis/stats.h"
#include "diarkis/tcp_client.h"  // ClientState, MigrationInfo
#include "diarkis/udp_options.h"

namespace diarkis {

class RuntimeImpl;  // native/src/io/runtime_impl.h
class PacketSink;   // native/src/events/packet_sink.h

class DiarkisUdpBase {
 public:
  explicit DiarkisUdpBase(std::shared_ptr<Runtime> runtime, UdpOptions options = {});
  // The same, with options shared (immutable) by many clients: an application with
  // thousands of clients keeps one copy per distinct set instead of one per client.
  DiarkisUdpBase(std::shared_ptr<Runtime> runtime, std::shared_ptr<const UdpOptions> options);
  virtual ~DiarkisUdpBase();
  DiarkisUdpBase(const DiarkisUdpBase&) = delete;
  DiarkisUdpBase& operator=(const DiarkisUdpBase&) = delete;

  uint64_t Id() const { return id_; }

  // Connect to a node. `host` is a numeric IPv4 or IPv6 address (resolve names
  // before calling). SYN is repeated until answered; OnConnect fires on the answer.
  // Failures end in OnDisconnect(ConnectTimeout | NetworkError | ...). Returns
  // InvalidArgument for a bad host, NotConnected if the client was already used.
  ErrorCode Connect(const std::string& host, uint16_t port, const SessionKeys& keys);

  // Unreliable: one datagram, sent once; needs Connected (else NotConnected) and
  // must fit one datagram (else PayloadTooLarge). `*writable` reports the
  // reliable queue against the high-water mark.
  ErrorCode Send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable = nullptr);
  // Reliable (retransmitted until acknowledged, in order; large packets are cut
  // into fragments). Allowed while connecting (sent after the handshake). Errors
  // (nothing queued): PayloadTooLarge, QueueFull, NotConnected. `*writable` becomes
  // false at or past the high-water mark, and an OnDrain follows.
  ErrorCode RSend(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable = nullptr);

  // Live migration (PROTOCOL section 7), as DiarkisTcpBase::SendMigrate: a
  // reliable migrate request after everything already sent; from then on RSend()
  // holds requests locally (counted against maxQueuedBytes: QueueFull past it)
  // until the target answers the claim, and Send() (unreliable) returns
  // NotConnected. Idempotent while a migration runs; NotConnected unless
  // connected. Outcome: OnConnect(true) + OnMigrated; or OnError(NoTarget) with
  // the held requests sent to the old node; or OnDisconnect(MigrationFailed)
  // after the claim retries ran out of handoffTtlMs, held requests in TakeUnsent().
  ErrorCode SendMigrate();

  // The requests that were held (never sent) when the session ended, in order.
  // Filled before OnDisconnect runs; each call takes them (empty afterwards).
  std::vector<UnsentPacket> TakeUnsent();

  // graceful: wait for every reliable packet to be acknowledged (bounded by
  // closeTimeoutMs), then FIN; otherwise FIN at once. OnDisconnect(ClosedByUser) follows.
  void Disconnect(bool graceful = true);

  // Blocks until the network thread holds no reference to this client (see above).
  void Detach();

  ClientState State() const;
  StatsSnapshot GetStats() const;

 protected:
  // A host that queues events whole (the Node addon, the C ABI) overrides this to
  // take each Event (its payload moved, not copied) instead of the On* calls
  // below. Return true when taken. Runs on the runtime's thread like them.
  virtual bool TakeEvent(Event& ev) { (void)ev; return false; }
  // Such a host tracks this in its queue (EventQueue::track, native/src/events):
  // the client pauses reading while its queued events pass receiveHighWaterMark.
  std::shared_ptr<ReceiveBacklog> ReceiveBacklogOf() const;
  // Such a host may also take the application's responses and pushes as packets,
  // decrypted straight into its queue's arena, as Id() (no Event, no TakeEvent), in
  // the order the reliable channel delivers them. Before Connect(); ignored with
  // options.callbacks (events are polled then).
  void SetPacketSink(std::shared_ptr<PacketSink> sink);
  // All run on the network thread (must not block), or where options.callbacks is polled.
  virtual void OnConnect(bool reconnected) { (void)reconnected; }
  virtual void OnDisconnect(ErrorCode reason, const std::string& message) { (void)reason; (void)message; }
  virtual void OnOffline() {}
  virtual void OnResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* payload, size_t len) {
    (void)ver; (void)cmd; (void)status; (void)payload; (void)len;
  }
  virtual void OnPush(uint8_t ver, uint16_t cmd, const uint8_t* payload, size_t len) {
    (void)ver; (void)cmd; (void)payload; (void)len;
  }
  // The reliable echo (ver 0 cmd 1) was answered: round trip and our public ip:port.
  virtual void OnEcho(double rttMs, const std::string& publicAddress) { (void)rttMs; (void)publicAddress; }
  virtual void OnMigrated(const MigrationInfo& info) { (void)info; }
  virtual void OnDrain() {}
  // Non-fatal problems (e.g. a packet dropped for a bad MAC). The connection lives on.
  virtual void OnError(ErrorCode code, const std::string& message) { (void)code; (void)message; }

 private:
  friend class UdpConnection;  // native/src/io: the network-thread side
  ErrorCode post(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable, bool* writable);
  void dispatch(Event& ev);    // Event -> the virtual above (network thread)

  std::shared_ptr<Runtime> runtime_;
  RuntimeImpl* impl_ = nullptr;  // runtime_ as its implementation (a dynamic_cast per send cost 1-2 %)
  std::shared_ptr<const UdpOptions> options_;  // never null
  uint64_t id_;
  struct Shared;               // state shared with the network thread
  std::shared_ptr<Shared> shared_;
};

}  // namespace diarkis
