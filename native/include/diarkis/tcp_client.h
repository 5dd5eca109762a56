// DiarkisTcpBase: the TCP client of the Diarkis realtime protocol, mirroring the
// C++ SDK's class of the same name. Subclass it and override the On* callbacks.
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

#include "diarkis/callback_queue.h"
#include "diarkis/crypto.h"
#include "diarkis/errors.h"
#include "diarkis/event.h"
#include "diarkis/runtime.h"
#include "diarkis/stats.h"

namespace diarkis {

class RuntimeImpl;  // native/src/io/runtime_impl.h

class ReceiveBacklog;  // native/src/events/receive_backlog.h
class PacketSink;      // native/src/events/packet_sink.h

struct TcpOptions {
  double connectTimeoutMs = 10000;      // socket connect + first heartbeat answer
  double heartbeatIntervalMs = 5000;    // PROTOCOL section 3
  uint32_t heartbeatMissLimit = 3;      // (ours) no answer for this many intervals -> timeout
  uint32_t maxPayload = wire::kDefaultMaxPayload;  // both directions
  size_t highWaterMark = 1u << 20;      // Send reports !writable at or past this many queued bytes
  size_t maxQueuedBytes = 64u << 20;    // Send refuses (QueueFull) past this
  double closeTimeoutMs = 5000;         // graceful Disconnect: bound on flushing the queue
  // (ours) Receive bound, for hosts that queue events (the Node addon, the C ABI):
  // past this many bytes of received events not yet taken by the host's consumer,
  // reading pauses (TCP: the socket is not read; UDP: new reliable DATs are not
  // acknowledged, unreliable ones dropped) until the consumer takes them down to
  // half of it. While paused, heartbeat/echo misses do not count, up to
  // maxReceiveStallMs: then the session ends with ReceiveStalled.
  size_t receiveHighWaterMark = 4u << 20;
  double maxReceiveStallMs = 60000;

  // Live migration (PROTOCOL section 7). autoMigrate: the session calls
  // SendMigrate itself on the offline notice and retries after no-target (the
  // C++ SDK's default is manual: the application calls SendMigrate in OnOffline).
  bool autoMigrate = false;
  double handoffTtlMs = 30000;          // claim retries stop this long after the migrate answer
  double migrateRetryMinMs = 200;       // capped, jittered exponential backoff of claim
  double migrateRetryMaxMs = 5000;      //   retries and of automatic no-target retries
  double lingerMs = 5000;               // the old socket is read and discarded until EOF or this
  uint64_t rngSeed = 0;                 // backoff jitter; 0 = seeded from std::random_device

  // Where the On* callbacks run: null = on the network thread (must not block);
  // a CallbackQueue = on whichever thread calls its Poll() (callback_queue.h).
  std::shared_ptr<CallbackQueue> callbacks;
};

enum class ClientState : uint8_t { Idle, Connecting, Connected, Migrating, Closing, Closed };
const char* clientStateName(ClientState s);

// A request the session could not send: handed back after a failed migration
// (or any disconnect that left requests held during a migration). See TakeUnsent().
struct UnsentPacket {
  uint8_t ver = 0;
  uint16_t cmd = 0;
  Bytes body;  // the plaintext body as given to Send
};

struct MigrationInfo {
  std::string from;  // old node host:port
  std::string to;    // new node host:port
  double tookMs = 0; // from the migrate request to the claim's answer
};

class DiarkisTcpBase {
 public:
  explicit DiarkisTcpBase(std::shared_ptr<Runtime> runtime, TcpOptions options = {});
  virtual ~DiarkisTcpBase();
  DiarkisTcpBase(const DiarkisTcpBase&) = delete;
  DiarkisTcpBase& operator=(const DiarkisTcpBase&) = delete;

  uint64_t Id() const { return id_; }

  // Connect to a node. `host` is a numeric IPv4 or IPv6 address (resolve names
  // before calling). The first request on the connection is a heartbeat; OnConnect
  // fires when its answer arrives. Failures end in OnDisconnect(Refused |
  // ConnectTimeout | NetworkError | ...). Returns InvalidArgument for a bad host,
  // NotConnected if the client was already used and closed.
  ErrorCode Connect(const std::string& host, uint16_t port, const SessionKeys& keys);

  // Queue a request (header || SID || secure(body)). Allowed while connecting
  // (sent after the first heartbeat). Returns None when accepted; `*writable`
  // (if given) becomes false at or past the high-water mark, and an OnDrain
  // follows once the queue falls below it. Errors (nothing queued):
  // PayloadTooLarge, QueueFull, NotConnected (closing or closed).
  // Encodes and encrypts on the calling thread (about 3.6 us per 1 KiB packet
  // here), so that CPU spreads over the callers instead of the network thread.
  ErrorCode Send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable = nullptr);
  // TCP is reliable: the same as Send.
  ErrorCode RSend(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable = nullptr) {
    return Send(ver, cmd, body, len, writable);
  }

  // Send for a host that batches its sends (the Node addon on its host-loop driver):
  // on a HostRuntime outside any handler, the request is encoded straight into the
  // session's output and nothing is written or delivered until SettleSends(), to be
  // called once after a run of these. Elsewhere exactly Send (SettleSends: nothing).
  ErrorCode SendInPlace(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable = nullptr);
  void SettleSends();
  // Bytes reserved by sends and not yet written (StatsSnapshot::queuedBytes, cheaply).
  uint64_t QueuedBytes() const;

  // Live migration (PROTOCOL section 7): a reliable migrate request queued after
  // everything already sent. From then on Send() holds requests locally (they
  // count against maxQueuedBytes: QueueFull past it, never dropped silently)
  // until the session is claimed at the target. Idempotent while a migration
  // runs. Returns NotConnected unless connected (or already migrating). Outcome:
  // OnConnect(true) + OnMigrated; or OnError(NoTarget) with the held requests
  // sent to the old node and the session kept; or OnDisconnect(MigrationFailed)
  // after the claim retries ran out of handoffTtlMs, with the held requests
  // available from TakeUnsent().
  ErrorCode SendMigrate();

  // The requests that were held (never sent) when the session ended, in order.
  // Filled before OnDisconnect runs; each call takes them (empty afterwards).
  std::vector<UnsentPacket> TakeUnsent();

  // graceful: flush what is queued (bounded by closeTimeoutMs), then close;
  // otherwise drop the connection at once. OnDisconnect(ClosedByUser) follows.
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
  // decrypted straight into its queue's arena, as Id() (no Event, no TakeEvent).
  // Before Connect(); ignored with options.callbacks (events are polled then).
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
  virtual void OnHeartbeat(double rttMs) { (void)rttMs; }
  virtual void OnMigrated(const MigrationInfo& info) { (void)info; }
  virtual void OnDrain() {}
  // Non-fatal problems (e.g. a packet dropped for a bad MAC). The connection lives on.
  virtual void OnError(ErrorCode code, const std::string& message) { (void)code; (void)message; }

 private:
  friend class TcpConnection;  // native/src/io: the network-thread side
  void dispatch(Event& ev);    // Event -> the virtual above (network thread)

  std::shared_ptr<Runtime> runtime_;
  RuntimeImpl* impl_ = nullptr;  // runtime_ as its implementation (a dynamic_cast per send cost 1-2 %)
  TcpOptions options_;
  uint64_t id_;
  struct Shared;               // state shared with the network thread
  std::shared_ptr<Shared> shared_;
};

}  // namespace diarkis
