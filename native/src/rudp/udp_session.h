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
// event, exactly once). Migrating is reserved for migration: the session would
// hold new sends in held_ (as while Connecting), claim at the new node with the
// claim as the first reliable request (sendOpening()), and forget the old
// channel's outgoing DATs (ReliableChannel::forgetOutgoing()). Not implemented.
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
#include "rudp/fragment.h"
#include "rudp/reliable.h"
#include "rudp/udp_options.h"
#include "session/send_budget.h"

namespace diarkis {

class UdpSession {
 public:
  static constexpr double kNoDeadline = std::numeric_limits<double>::infinity();

  UdpSession(const UdpOptions& options, const SessionKeys& keys, Stats& stats, SendBudget& budget);

  ClientState state() const { return state_; }
  bool closed() const { return state_ == ClientState::Closed; }

  // --- inputs ---------------------------------------------------------------
  void start(double now);  // Idle -> Connecting: first SYN, connect timeout starts
  // One datagram from the server (the owner's connected socket filters the source).
  void onDatagram(const uint8_t* data, size_t len, double now);
  void onTimer(double now);   // call at (or after) nextDeadline()
  double nextDeadline() const;
  void onSocketError(ErrorCode code, const std::string& message, double now);

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

  // --- outputs --------------------------------------------------------------
  bool takeDatagrams(std::vector<Bytes>& out);  // appends; false when none
  bool takeEvents(std::vector<Event>& out);     // appends; false when none

  const std::string& publicAddress() const { return publicAddress_; }
  uint32_t serverInitialSeq() const { return serverSeq_; }
  const rudp::ReliableChannel& channel() const { return channel_; }

 private:
  void push(Bytes datagram);  // after whatever the channel has queued
  void collect();             // channel datagrams -> out_
  void sendSyn(double now);
  void completeHandshake(uint32_t seq, double now);
  void sendOpening(double now);
  void sendEcho(double now);
  void sendAckRecord(uint32_t seq);
  void sendFin();
  void sendPacket(Bytes packet, bool budgeted, double now);
  static size_t reliableCost(size_t packetLen, size_t fragmentSize);
  void afterChannel(double now);
  void handleDelivered(const Bytes& body, double now);
  void parsePackets(const uint8_t* data, size_t len, double now);
  void handlePacket(Packet& p, double now);
  void handleKeepAlive(const Bytes& body, bool push, double now);
  void raiseOffline();
  void maybeFinishClose(double now);
  void finish(ErrorCode code, const std::string& message);
  void emit(Event&& ev) { events_.push_back(std::move(ev)); }

  const UdpOptions options_;
  SessionCrypto crypto_;
  Stats& stats_;
  SendBudget& budget_;
  rudp::ReliableChannel channel_;
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
  double nextEcho_ = kNoDeadline;
  double lastEchoAnswer_ = 0;      // the echo miss timeout counts from here
  double closeDeadline_ = kNoDeadline;

  struct Held {
    Bytes packet;
    bool budgeted;
  };
  std::vector<Held> held_;         // reliable requests waiting for the handshake
  size_t heldBytes_ = 0;           // budgeted bytes in held_
  std::vector<Bytes> out_;
  std::vector<Event> events_;
  std::vector<Bytes> scratch_;
};

}  // namespace diarkis
