// TcpSession: live migration (PROTOCOL.md section 7), client side.
//
//   None --sendMigrate--> Requested --answer 1--> Connecting --socket up--> Claiming --answer 1--> None
//                             |                      ^   |                    |
//                             | answer 5 (1003)      |   +-- failure --> Backoff (retry within the
//                             v                      +------------------<    handoff TTL, else
//                       None + NoTarget error                                 Disconnect MigrationFailed)
//
// The session never touches sockets: it asks its owner to hand the old socket to
// a drainer (SocketAction::Linger), to close a failed target socket (Close), and
// to connect to the target (takeConnect).
#include <algorithm>

#include "session/tcp_session.h"
#include "session/migrate_answer.h"
#include "session/room_rules.h"

namespace diarkis {

ErrorCode TcpSession::sendMigrate(double now) {
  if (mig_ != MigPhase::None) return ErrorCode::None;  // the same migration
  if (state_ != ClientState::Connected || !answered_) return ErrorCode::NotConnected;
  // The stream is ordered: the node handles this after everything sent before it.
  writeInternal(wire::kCmdReconn, nullptr, 0);
  mig_ = MigPhase::Requested;
  roomMigrate_ = false;
  roomWaitDeadline_ = kNoDeadline;
  state_ = ClientState::Migrating;
  migStart_ = now;
  autoRetryAt_ = kNoDeadline;
  return ErrorCode::None;
}

void TcpSession::handleMigrateAnswer(const PacketView& p, const Bytes& body, double now) {
  if (p.status != wire::kStatusOk) {
    // No target (or another refusal): the old node keeps us; the held requests go to it.
    const std::string why = describeMigrateRefusal(p.status, body);
    mig_ = MigPhase::None;
    state_ = ClientState::Connected;
    flushHeld();
    Event ev;
    ev.type = EventType::Error;
    ev.code = ErrorCode::NoTarget;
    ev.message = why;
    emit(std::move(ev));
    if (options_.autoMigrate) autoRetryAt_ = now + backoff(noTargets_++);
    return;
  }
  MigrateTarget t;
  if (!decodeMigrateAnswer(body, t)) {
    stats_.drop(DropReason::BadBody);
    finish(ErrorCode::MigrationFailed, "the migrate answer is malformed (" + std::to_string(body.size()) + " bytes)");
    return;
  }
  target_ = t.address;
  ticket_ = t.ticket;
  targetHost_ = t.host;
  targetPort_ = t.port;
  noTargets_ = 0;
  attempts_ = 0;
  handoffDeadline_ = now + options_.handoffTtlMs;
  // The old node half-closes after the answer: its socket drains in the background.
  socketAction_ = SocketAction::Linger;
  connectTarget(now);
}

// The owner's 1/7 answer (PROTOCOL 10.2): the application sees it as a response; with
// the 7.4 body it is also our migrate answer, else (stays where it is, or Bad) the held go out.
void TcpSession::handleRoomAnswer(const PacketView& p, const Bytes& body, double now) {
  emit(room::migrateResponse(p.status, body));
  roomMigrate_ = false;
  if (p.status == wire::kStatusOk && !body.empty()) return handleMigrateAnswer(p, body, now);
  mig_ = MigPhase::None;
  state_ = ClientState::Connected;
  flushHeld();
}

// A migration the server starts (PROTOCOL 10.2): ver 0 cmd 2 pushed with the 7.4 body,
// carried out as if we had sent the migrate request and got that answer.
void TcpSession::handleMigratePush(const PacketView& p, const Bytes& body, double now) {
  if ((mig_ != MigPhase::None && mig_ != MigPhase::Requested) ||
      (state_ != ClientState::Connected && state_ != ClientState::Migrating)) {
    stats_.drop(DropReason::Unexpected);
    return;
  }
  if (mig_ == MigPhase::None) migStart_ = now;
  // Our own 1/7 or 0/2 may still be on its way: the node drops it, this push is its answer.
  if (roomMigrate_) emit(room::migrateResponse(wire::kStatusOk, Bytes()));
  mig_ = MigPhase::Requested;
  roomMigrate_ = false;
  state_ = ClientState::Migrating;
  autoRetryAt_ = roomWaitDeadline_ = kNoDeadline;
  handleMigrateAnswer(room::pushAsAnswer(p), body, now);
}

void TcpSession::connectTarget(double now) {
  if (now >= handoffDeadline_) {
    finish(ErrorCode::MigrationFailed, "could not claim the session at " + target_ + " within " +
                                           std::to_string(static_cast<long long>(options_.handoffTtlMs)) +
                                           " ms after " + std::to_string(attempts_) + " attempts: " + lastFailure_);
    return;
  }
  ++attempts_;
  resetConnection();
  mig_ = MigPhase::Connecting;
  connectWanted_ = true;
  connectDeadline_ = std::min(now + options_.connectTimeoutMs, handoffDeadline_);
}

// A new connection starts a new stream: nothing of the old one carries over.
void TcpSession::resetConnection() {
  uint64_t internal = 0;
  for (const auto& r : internal_) internal += r.second - std::max(r.first, streamWritten_);
  release(static_cast<size_t>(outputSize() - internal));  // none expected: user bytes are held
  out_.clear();
  outPos_ = 0;
  internal_.clear();
  reassembler_ = StreamReassembler(options_.maxPayload);
  socketConnected_ = false;
  finCode_ = ErrorCode::None;
  finReason_.clear();
}

void TcpSession::attemptFailed(const std::string& why, double now) {
  lastFailure_ = why;
  connectDeadline_ = kNoDeadline;
  mig_ = MigPhase::Backoff;
  if (socketAction_ == SocketAction::None) socketAction_ = SocketAction::Close;
  connectWanted_ = false;
  if (now >= handoffDeadline_) {
    connectTarget(now);  // reports MigrationFailed
    return;
  }
  retryAt_ = std::min(now + backoff(attempts_ - 1), handoffDeadline_);
}

void TcpSession::handleClaimAnswer(const PacketView& p, double now) {
  if (p.status != wire::kStatusOk) {
    attemptFailed("the target answered the claim with status " + std::to_string(p.status), now);
    return;
  }
  const double took = now - migStart_;
  Event mig;
  mig.type = EventType::Migrated;
  mig.from = peer_;
  mig.address = target_;
  mig.rttMs = took;
  peer_ = target_;
  mig_ = MigPhase::None;
  connectDeadline_ = handoffDeadline_ = kNoDeadline;
  offlineRaised_ = false;  // once per node: the new node may go offline too
  lastAnswer_ = now;
  nextHeartbeat_ = now + options_.heartbeatIntervalMs;
  stats_.add(&Stats::migrations);
  if (state_ == ClientState::Migrating) state_ = ClientState::Connected;
  Event con;
  con.type = EventType::Connect;
  con.reconnected = true;
  emit(std::move(con));
  emit(std::move(mig));
  flushHeld();  // in order, after the claim
}

double TcpSession::backoff(uint32_t attempt) {
  return migrationBackoff(attempt, options_.migrateRetryMinMs, options_.migrateRetryMaxMs, rng_);
}

TcpSession::SocketAction TcpSession::takeSocketAction() {
  const SocketAction a = socketAction_;
  socketAction_ = SocketAction::None;
  return a;
}

bool TcpSession::takeConnect(std::string& host, uint16_t& port) {
  if (!connectWanted_ || closed()) return false;
  connectWanted_ = false;
  host = targetHost_;
  port = targetPort_;
  return true;
}

// held_ -> UnsentPacket list: our own request packets (header || SID || secure(body)).
void TcpSession::decodeHeld() {
  size_t pos = 0;
  Bytes body;
  while (held_.size() - pos >= wire::kRequestHeaderSize + wire::kSidSize) {
    const uint8_t* h = held_.data() + pos;
    const size_t len = static_cast<size_t>(h[5]) << 16 | static_cast<size_t>(h[6]) << 8 | h[7];
    if (held_.size() - pos < wire::kRequestHeaderSize + len || len < wire::kSidSize) break;
    DropReason reason = DropReason::Unexpected;
    const uint8_t* payload = h + wire::kRequestHeaderSize + wire::kSidSize;
    if (crypto_.open(payload, len - wire::kSidSize, body, reason)) {
      UnsentPacket u;
      u.ver = h[4];
      u.cmd = static_cast<uint16_t>(h[8] << 8 | h[9]);
      u.body = body;
      unsent_.push_back(std::move(u));
    }
    pos += wire::kRequestHeaderSize + len;
  }
}

}  // namespace diarkis
