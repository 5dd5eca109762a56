// The CLIENT's sans-I/O UDP session (PROTOCOL.md section 4): datagram bytes and
// the current time in; datagrams to send, Events and the next timer deadline out.
// No sockets, no clock reads: every timer is testable with a fake clock.
//
// Lifecycle: start() sends the first SYN; then onDatagram()/onTimer()/send()/
// close() as things happen. After each call the owner sends takeDatagrams() on
// its connected socket, dispatches takeEvents(), and re-arms its timer for
// nextDeadline(). Once closed() is true the socket can be closed.
//
// States: Idle -> Connecting (SYN repeated) -> Connected (after the SYN answer;
// Connect event) -> Closing (graceful close flushing) -> Closed (Disconnect
// event, exactly once).
//
// Migration (PROTOCOL section 7, udp_session_migration.cc): sendMigrate() sends
// the migrate request reliably after everything queued; reliable sends are held
// (held_) until the target answers the claim. The migrate answer, once delivered
// in order, moves the current link to the "old link" (its channel forgets our
// unacknowledged DATs and only acknowledges the old node's retransmissions until
// its FIN or lingerMs) and asks the owner (takeLinkAction: OpenTarget) to open a
// new socket to the target, where a fresh handshake runs and the claim is the
// first DAT, alone. The owner feeds the old socket's datagrams to
// onOldLinkDatagram() and sends takeOldLinkDatagrams() on it, until CloseOldLink.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "diarkis/event.h"
#include "diarkis/stats.h"
#include "diarkis/tcp_client.h"
#include "events/packet_sink.h"
#include "rudp/fragment.h"
#include "rudp/lazy_engine.h"
#include "rudp/reliable.h"
#include "rudp/ring.h"
#include "rudp/udp_options.h"
#include "session/send_budget.h"

namespace diarkis {

class UdpSession {
 public:
  static constexpr double kNoDeadline = std::numeric_limits<double>::infinity();

  UdpSession(const UdpOptions& options, const SessionKeys& keys, Stats& stats, SendBudget& budget);
  // Options shared by every session made with the same set (immutable; docs/decisions.md, #10).
  UdpSession(std::shared_ptr<const UdpOptions> options, const SessionKeys& keys, Stats& stats,
             SendBudget& budget);

  ClientState state() const { return state_; }
  bool closed() const { return state_ == ClientState::Closed; }

  // --- inputs ---------------------------------------------------------------
  void start(double now);  // Idle -> Connecting: first SYN, connect timeout starts
  // One datagram from the server (the owner's connected socket filters the source).
  void onDatagram(const uint8_t* data, size_t len, double now);
  void onTimer(double now);   // call at (or after) nextDeadline()
  // onTimer(now) would end the session for the server's silence (no SYN answer, no
  // echo answer): the owner reads its socket first, even when its timer is on time.
  bool judgesSilenceAt(double now) const;
  double nextDeadline() const;
  void onSocketError(ErrorCode code, const std::string& message, double now);
  // The owner's receive backlog passed (true) or came back under (false) its
  // mark: new reliable DATs are refused (resent later by the peer), unreliable
  // ones dropped (drops['receive-backlog']); echo misses do not count, up to
  // maxReceiveStallMs: then ReceiveStalled.
  void setReceivePaused(bool paused, double now);
  bool receivePaused() const { return receivePaused_; }

  // Encode + seal + send a request. Reliable sends made while Connecting wait
  // for the handshake; unreliable sends need Connected (else NotConnected) and
  // must fit one datagram (else PayloadTooLarge). Reliable sends count against
  // the SendBudget until acknowledged: QueueFull past maxQueuedBytes, *writable
  // false at or past the high-water mark, and a Drain event follows.
  ErrorCode send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable, double now,
                 bool* writable = nullptr);

  // graceful: flush unacknowledged DATs (bounded by closeTimeoutMs), then FIN;
  // otherwise FIN at once. Disconnect(ClosedByUser) follows.
  void close(bool graceful, double now);

  // Start a migration (idempotent while one runs). NotConnected unless connected.
  ErrorCode sendMigrate(double now);
  // "host:port" of the node the session talks to (for MigrationInfo.from).
  void setPeerName(std::string name) { peer_ = std::move(name); }
  // A datagram from the old node's socket (after OpenTarget, until CloseOldLink).
  void onOldLinkDatagram(const uint8_t* data, size_t len, double now);

  // --- outputs --------------------------------------------------------------
  bool takeDatagrams(std::vector<Bytes>& out);  // appends; false when none
  // Only complete datagrams: a partly packed DAT and batched ACKs stay for the
  // flush at the end of the owner's loop turn (takeDatagrams), while hasUnflushed().
  bool takeReadyDatagrams(std::vector<Bytes>& out);
  bool hasUnflushed() const { return channel_->hasUnflushed(); }
  bool flushDue() const { return channel_->flushDue(); }  // see ReliableChannel::flushDue
  bool takeOldLinkDatagrams(std::vector<Bytes>& out);  // for the old socket
  bool takeEvents(std::vector<Event>& out);     // appends; false when none
  // Responses and pushes of the application go to sink as packets (their payload
  // decrypted into its arena) instead of Events, as clientId, at the in-order
  // delivery point (after the reliable channel's reordering and the reassembly of
  // fragments), while nothing emitted before waits in takeEvents(). Null: every
  // packet is an Event.
  void setPacketSink(PacketSink* sink, uint64_t clientId) {
    sink_ = sink;
    sinkId_ = clientId;
  }

  // What the owner must do with its sockets, in order, BEFORE it sends
  // takeDatagrams() again or takeOldLinkDatagrams() (which are the latest old
  // link's): OpenTarget = send `last` on the current socket (what it still owes
  // the old node: the partly packed DAT, the ACK of the answer), keep it as the
  // old link and open a new one to host:port (numeric); CloseOldLink = send
  // `last` on the old socket, then close it. `last` is appended to.
  enum class LinkAction : uint8_t { None, OpenTarget, CloseOldLink };
  LinkAction takeLinkAction(std::string& host, uint16_t& port, std::vector<Bytes>& last);
  bool linkActionPending() const { return !actions_.empty(); }
  bool oldLinkOpen() const { return old_ != nullptr; }
  // Nothing for the owner's sockets beyond the current one: no action, no old link, none of
  // its datagrams waiting (takeLinkAction and takeOldLinkDatagrams would find nothing).
  bool linkIdle() const { return actions_.empty() && old_ == nullptr && oldOut_.empty(); }
  // Changes whenever the current link is replaced (the migrate answer makes it the old one).
  uint64_t linkGeneration() const { return linkGen_; }
  // Requests held when the session ended, decoded (filled by the final Disconnect).
  std::vector<UnsentPacket> takeUnsent() { return std::move(unsent_); }

  const std::string& publicAddress() const { return publicAddress_; }
  uint32_t serverInitialSeq() const { return serverSeq_; }
  const rudp::ReliableChannel& channel() const { return *channel_; }

 private:
  enum class MigPhase : uint8_t { None, Requested, Handshake, Claiming, Backoff };

  bool holding() const { return !handshaked_ || mig_ != MigPhase::None || releaseAfterOld_; }
  bool releaseHeld(double now);  // false while the old link still carries ours
  void releaseHeldIfOldDone(double now);
  void freshLink();  // new channel, fragment ids and reassembly: a new connection
  void flushHeld(double now);
  bool moveCounted(std::vector<Bytes>& from, std::vector<Bytes>& out);  // counted as sent
  void handleMigrateAnswer(const PacketView& p, const Bytes& body, double now);
  // Rooms (PROTOCOL 10, session/room_rules.h): the owner's 1/7 answer, the server's push.
  void handleRoomAnswer(const PacketView& p, const Bytes& body, double now);
  void handleMigratePush(const PacketView& p, const Bytes& body, double now);
  void endOldLinkWhenIdle();
  void handleClaimAnswer(const PacketView& p, double now);
  void sendClaim(double now);
  void startAttempt(double now);
  void attemptFailed(const std::string& why, double now);
  double backoff(uint32_t attempt);
  void closeOldLink();
  void decodeHeld();
  void push(Bytes datagram);  // after whatever the channel has completed
  void collect();             // channel datagrams, flushed -> out_
  void collectReady();        // complete channel datagrams -> out_
  void sendSyn(double now);
  void completeHandshake(uint32_t seq, double now);
  void sendOpening(double now);
  void sendEcho(double now);
  void sendAckRecord(uint32_t seq);
  void sendFin();
  void sendPacket(Bytes packet, bool budgeted, double now);
  static size_t reliableCost(size_t packetLen, size_t fragmentSize);
  void afterChannel(double now);
  void handleDelivered(const uint8_t* body, size_t len, double now);  // in order
  void parsePackets(const uint8_t* data, size_t len, double now);
  void handlePacket(const PacketView& p, double now);
  bool postToSink(const PacketView& p, double now);  // false: the Event path
  void dropPacket(DropReason reason);
  void noteMembership(const PacketView& p);  // a room answer: joined or left
  void handleKeepAlive(const Bytes& body, bool push, double now);
  void raiseOffline(double now);
  double connectedDeadline() const;
  // The echo miss deadline, or none while the send window is full (an echo would
  // wait locally; the retransmission limit is the liveness check then).
  double echoMissDeadline() const;
  void maybeFinishClose(double now);
  void finish(ErrorCode code, const std::string& message);
  void emit(Event&& ev) { events_.push_back(std::move(ev)); }

  const std::shared_ptr<const UdpOptions> sharedOptions_;
  const UdpOptions& options_;  // *sharedOptions_
  SessionCrypto crypto_;
  Stats& stats_;
  SendBudget& budget_;
  std::unique_ptr<rudp::ReliableChannel> channel_;  // the current link's
  rudp::Fragmenter fragmenter_;
  rudp::Reassembler reassembler_;

  ClientState state_ = ClientState::Idle;
  bool handshaked_ = false;
  uint32_t serverSeq_ = 0;         // S from the SYN answer
  bool offlineRaised_ = false;     // Offline once per node (= per session)
  ErrorCode finCode_ = ErrorCode::None;  // from a Fin push, reported by the close that follows
  std::string finReason_;
  std::string publicAddress_;

  double connectDeadline_ = kNoDeadline;
  double nextSyn_ = kNoDeadline;
  double synSentAt_ = 0;           // the handshake RTT seeds the channel's RTO (Karn: one SYN only)
  uint32_t synsSent_ = 0;
  double nextEcho_ = kNoDeadline;
  // The echo miss timeout counts from the last sign of life: an authenticated packet
  // (echo answer, response, push) or an ACK of a DAT of ours (docs/decisions.md).
  double lastHeard_ = 0;
  double closeDeadline_ = kNoDeadline;
  bool receivePaused_ = false;
  double stallDeadline_ = kNoDeadline;

  struct Held {
    Bytes packet;
    bool budgeted;
  };
  std::vector<Held> held_;         // reliable requests waiting for the handshake
  size_t heldBytes_ = 0;           // budgeted bytes in held_
  std::vector<Bytes> out_;
  std::vector<Event> events_;
  PacketSink* sink_ = nullptr;  // outlives us (held by the client's shared state)
  uint64_t sinkId_ = 0;
  std::vector<Bytes> scratch_;

  // --- migration ---
  MigPhase mig_ = MigPhase::None;
  bool roomMigrate_ = false;       // the running request is the owner's 1/7, not 0/2
  bool pushStarted_ = false;       // the node started this migration: the old link still carries our DATs
  bool inRoom_ = false;            // auto mode waits for the room's migration (PROTOCOL 10.1)
  double roomWaitDeadline_ = kNoDeadline;
  uint64_t linkGen_ = 0;           // bumped when the current link is replaced
  std::string peer_;               // the node we talk to ("host:port")
  std::string target_;             // the target's address as the answer gave it
  std::string targetHost_;
  uint16_t targetPort_ = 0;
  Bytes ticket_;
  double migStart_ = 0;            // the migrate request was sent
  double handoffDeadline_ = kNoDeadline;
  double claimDeadline_ = kNoDeadline;  // Handshake/Claiming: this attempt gives up
  double retryAt_ = kNoDeadline;   // Backoff: next attempt
  double autoRetryAt_ = kNoDeadline;  // auto mode: migrate again after no-target
  uint32_t attempts_ = 0;
  uint32_t noTargets_ = 0;
  std::string lastFailure_;
  rudp::LazyEngine rng_;           // backoff jitter, made on first use
  struct PendingAction {
    LinkAction action = LinkAction::None;
    std::vector<Bytes> last;  // for the socket the action is about, before it acts
  };
  rudp::Ring<PendingAction> actions_;
  std::vector<UnsentPacket> unsent_;
  // The old node's link: acknowledges its retransmissions until its FIN or oldDeadline_.
  std::unique_ptr<rudp::ReliableChannel> old_;
  bool oldCarriesOurs_ = false;    // server-started: old_ resends our DATs, our FIN ends it once idle
  bool releaseAfterOld_ = false;   // claimed after a push: the held go once old_ is done
  double oldDeadline_ = kNoDeadline;
  std::vector<Bytes> oldOut_;
};

}  // namespace diarkis
