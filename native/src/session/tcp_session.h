// Sans-I/O TCP session (PROTOCOL.md sections 1-3, 5): bytes and the current time
// in; bytes to write, Events and the next timer deadline out. No sockets, no clock
// reads, so every timer is testable with a fake clock.
//
// Lifecycle: start() when the socket connect begins, onSocketConnected() when it
// completed, then onData()/onEof()/onSocketError()/onTimer() as things happen.
// The owner writes output() to the socket, calls consumeOutput() with what was
// written, takes the events, and closes the socket once closed() is true.
//
// Migration (PROTOCOL section 7, tcp_session_migration.cc): sendMigrate() queues
// the migrate request; sends are held until the claim at the target is answered.
// On the answer the session asks its owner, through takeSocketAction() and
// takeConnect(), to hand the old socket to a drainer and connect to the target
// (and, after a failed attempt, to close the socket and connect again after a
// backoff). The first request on the target connection is the claim.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "diarkis/event.h"
#include "diarkis/stats.h"
#include "diarkis/tcp_client.h"
#include "events/packet_sink.h"
#include "session/send_budget.h"

namespace diarkis {

class TcpSession {
 public:
  static constexpr double kNoDeadline = std::numeric_limits<double>::infinity();

  TcpSession(const TcpOptions& options, const SessionKeys& keys, Stats& stats, SendBudget& budget);

  ClientState state() const { return state_; }
  // True once the session has ended (Disconnect emitted): close the socket.
  bool closed() const { return state_ == ClientState::Closed; }

  // --- inputs ---------------------------------------------------------------
  void start(double now);               // Idle -> Connecting: the connect timeout starts
  void onSocketConnected(double now);   // writes the opening request (heartbeat)
  void onData(const uint8_t* data, size_t len, double now);
  void onEof(double now);               // the peer closed its side
  void onSocketError(ErrorCode code, const std::string& message, double now);
  void onTimer(double now);             // call at (or after) nextDeadline()
  double nextDeadline() const;          // kNoDeadline when no timer runs
  // The owner stopped (true) or resumed (false) reading at the receive
  // high-water mark. While paused, heartbeat misses do not count (their answers
  // wait behind the unread pushes), up to maxReceiveStallMs: then ReceiveStalled.
  void setReceivePaused(bool paused, double now);
  bool receivePaused() const { return receivePaused_; }

  // Encode + encrypt + queue a request (network thread or tests).
  ErrorCode send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable = nullptr);
  // Queue a request that is already encoded and whose bytes the caller already
  // reserved in the SendBudget. Dropped (and released) when the session is closing/closed.
  void enqueueEncoded(Bytes&& packet);

  // Start a migration (idempotent while one runs). NotConnected unless connected.
  ErrorCode sendMigrate(double now);
  // "host:port" of the node the session is connected to (for MigrationInfo.from).
  void setPeerName(std::string name) { peer_ = std::move(name); }

  // What the owner must do with its current socket before anything else.
  enum class SocketAction : uint8_t { None, Linger, Close };
  SocketAction takeSocketAction();
  bool socketActionPending() const { return socketAction_ != SocketAction::None; }
  // A new connection is wanted (the migration target): host is numeric.
  bool takeConnect(std::string& host, uint16_t& port);
  // Requests held when the session ended, decoded (filled by the final Disconnect).
  std::vector<UnsentPacket> takeUnsent() { return std::move(unsent_); }

  // graceful: flush queued bytes (bounded by closeTimeoutMs) then close; else at once.
  void close(bool graceful, double now);

  // --- outputs --------------------------------------------------------------
  const uint8_t* output() const { return out_.data() + outPos_; }
  size_t outputSize() const { return out_.size() - outPos_; }
  void consumeOutput(size_t n, double now);  // n bytes reached the socket
  // Moves the pending events into `out` (appending). False when there were none.
  bool takeEvents(std::vector<Event>& out);
  // Responses and pushes of the application go to sink as packets (their payload
  // decrypted into its arena) instead of Events, as clientId, while nothing
  // emitted before waits in takeEvents(). Null: every packet is an Event.
  void setPacketSink(PacketSink* sink, uint64_t clientId) {
    sink_ = sink;
    sinkId_ = clientId;
  }

 private:
  enum class MigPhase : uint8_t { None, Requested, Backoff, Connecting, Claiming };

  void writeOpeningRequest(double now);
  void writeInternal(uint16_t cmd, const uint8_t* body, size_t len);
  bool holding() const { return !answered_ || mig_ != MigPhase::None; }
  void flushHeld();
  void beginRoomMigrate();
  void handleMigrateAnswer(const PacketView& p, const Bytes& body, double now);
  // Rooms (PROTOCOL 10, session/room_rules.h): membership, the owner's 1/7, the server's push.
  void handleRoomAnswer(const PacketView& p, const Bytes& body, double now);
  void handleMigratePush(const PacketView& p, const Bytes& body, double now);
  void handleClaimAnswer(const PacketView& p, double now);
  void attemptFailed(const std::string& why, double now);
  void connectTarget(double now);
  void resetConnection();
  double backoff(uint32_t attempt);
  void decodeHeld();
  void writeHeartbeat(double now);
  void release(size_t n);  // SendBudget release + Drain event when due
  void handlePacket(const PacketView& p, double now);
  void noteMembership(const PacketView& p);  // a room answer: joined or left
  void dropPacket(const PacketView& p, DropReason reason, double now);
  void handleHeartbeatAnswer(const Bytes& body, double now);
  void handleBuiltinPush(const PacketView& p, const Bytes& body, double now);
  void becomeConnected(double now);
  void raiseOffline(double now);
  void maybeFinishClose();
  void finish(ErrorCode code, const std::string& message);
  void emit(Event&& ev) { events_.push_back(std::move(ev)); }

  const TcpOptions options_;
  SessionCrypto crypto_;
  Stats& stats_;
  SendBudget& budget_;
  StreamReassembler reassembler_;

  ClientState state_ = ClientState::Idle;
  bool socketConnected_ = false;
  bool answered_ = false;        // the opening request has been answered
  bool offlineRaised_ = false;   // Offline is raised once per node (= per session)
  ErrorCode finCode_ = ErrorCode::None;  // from a Fin push: reported by the following close
  std::string finReason_;

  double connectDeadline_ = kNoDeadline;
  double nextHeartbeat_ = kNoDeadline;
  double lastAnswer_ = 0;        // miss timeout counts from here
  double closeDeadline_ = kNoDeadline;
  bool receivePaused_ = false;
  double stallDeadline_ = kNoDeadline;  // while paused: receive-stalled at this time

  Bytes out_;                    // bytes for the socket, written from outPos_
  size_t outPos_ = 0;
  // Absolute stream offsets of bytes in out_ that are ours (heartbeats), not
  // reserved in the SendBudget: consumeOutput releases only the user's bytes.
  uint64_t streamWritten_ = 0;   // stream offset of out_[outPos_]
  std::deque<std::pair<uint64_t, uint64_t>> internal_;  // [begin, end)
  Bytes held_;                   // user requests waiting for the session to go live
  uint64_t heldPackets_ = 0;
  std::vector<Event> events_;
  PacketSink* sink_ = nullptr;  // outlives us (held by the client's shared state)
  uint64_t sinkId_ = 0;

  // --- migration ---
  MigPhase mig_ = MigPhase::None;
  bool roomMigrate_ = false;     // the running request is the owner's 1/7, not 0/2
  bool inRoom_ = false;          // auto mode waits for the room's migration (PROTOCOL 10.1)
  double roomWaitDeadline_ = kNoDeadline;
  double lastNow_ = 0;           // send() has no clock: the latest time seen
  std::string peer_;             // the node we are connected to ("host:port")
  std::string target_;           // the target's address as the answer gave it
  std::string targetHost_;
  uint16_t targetPort_ = 0;
  Bytes ticket_;
  double migStart_ = 0;          // the migrate request was queued
  double handoffDeadline_ = kNoDeadline;
  double retryAt_ = kNoDeadline; // Backoff: next claim attempt
  double autoRetryAt_ = kNoDeadline;  // auto mode: migrate again after no-target
  uint32_t attempts_ = 0;        // claim attempts so far
  uint32_t noTargets_ = 0;       // consecutive no-target answers (auto backoff)
  std::string lastFailure_;
  SocketAction socketAction_ = SocketAction::None;
  bool connectWanted_ = false;
  std::mt19937_64 rng_;
  std::vector<UnsentPacket> unsent_;
};

}  // namespace diarkis
