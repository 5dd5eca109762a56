// UdpSession: live migration (PROTOCOL.md section 7), client side. Mirrors
// TcpSession's (session/tcp_session_migration.cc) phases and naming:
//
//   None --sendMigrate--> Requested --answer 1--> Handshake --SYN answer--> Claiming --answer 1--> None
//                             |                      ^   |                     |
//                             | answer 5 (1003)      |   +---- failure ---> Backoff (retry within the
//                             v                      +--------------------<   handoff TTL, else
//                       None + NoTarget error                                 Disconnect MigrationFailed)
//
// The session never touches sockets: on the answer it asks its owner to keep the
// current socket as the old link and open one to the target (LinkAction::OpenTarget),
// and, once the old node's FIN (or lingerMs) ends the old link, to close it.
#include <algorithm>

#include "rudp/datagram.h"
#include "rudp/udp_session.h"
#include "session/migrate_answer.h"
#include "session/room_rules.h"

namespace diarkis {

ErrorCode UdpSession::sendMigrate(double now) {
  if (mig_ != MigPhase::None) return ErrorCode::None;  // the same migration
  if (state_ != ClientState::Connected || !handshaked_) return ErrorCode::NotConnected;
  if (releaseAfterOld_) {  // the requests held for this node go before the migrate request
    releaseAfterOld_ = false;
    flushHeld(now);
  }
  Bytes packet;
  if (crypto_.appendRequest(packet, wire::kVerBuiltin, wire::kCmdReconn, nullptr, 0, options_.maxPayload) !=
      ErrorCode::None) {
    return ErrorCode::PayloadTooLarge;  // only with an absurdly small maxPayload
  }
  // In order after everything sent before it: the node handles it after them.
  sendPacket(std::move(packet), false, now);
  // Now, not after the pack delay: on a busy host loop that is the next iteration (issue 12).
  channel_->flushNow(now);
  mig_ = MigPhase::Requested;
  roomMigrate_ = false;
  roomWaitDeadline_ = kNoDeadline;
  state_ = ClientState::Migrating;
  migStart_ = now;
  autoRetryAt_ = kNoDeadline;
  return ErrorCode::None;
}

void UdpSession::flushHeld(double now) {
  for (Held& h : held_) sendPacket(std::move(h.packet), h.budgeted, now);
  held_.clear();
  heldBytes_ = 0;
}

void UdpSession::handleMigrateAnswer(const PacketView& p, const Bytes& body, double now) {
  if (p.status != wire::kStatusOk) {
    // No target: the old node keeps us; the held requests go to it.
    const std::string why = describeMigrateRefusal(p.status, body);
    mig_ = MigPhase::None;
    state_ = ClientState::Connected;
    flushHeld(now);
    channel_->flushNow(now);
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
    finish(ErrorCode::MigrationFailed,
           "the migrate answer is malformed (" + std::to_string(body.size()) + " bytes)");
    return;
  }
  target_ = t.address;
  ticket_ = t.ticket;
  targetHost_ = t.host;
  targetPort_ = t.port;
  noTargets_ = 0;
  attempts_ = 0;
  handoffDeadline_ = now + options_.handoffTtlMs;

  // The current link becomes the old link. An answer proves the node processed
  // every DAT we sent before it: forget them. A push does not (PROTOCOL 10.2): the
  // old link keeps resending ours until acknowledged, then we end it with a FIN.
  // What is queued for the socket (the ACK of this answer, after a push the partly
  // packed DAT of requests sent before it) leaves on it, as the OpenTarget's `last`:
  // the owner has no old socket for it before it acts.
  if (old_) closeOldLink();  // a previous migration's old link, still lingering
  releaseAfterOld_ = false;  // what it held goes to the next target
  channel_->flushAcksNow();  // the answer's ACK now: the old node's careful close waits for it
  collect();
  PendingAction open;
  open.action = LinkAction::OpenTarget;
  open.last.swap(out_);
  old_ = std::move(channel_);
  oldCarriesOurs_ = pushStarted_;
  if (!oldCarriesOurs_) old_->forgetOutgoing();
  if (budget_.release(old_->takeReleasedBytes())) {
    Event ev;
    ev.type = EventType::Drain;
    emit(std::move(ev));
  }
  actions_.push_back(std::move(open));
  oldDeadline_ = now + options_.lingerMs;
  endOldLinkWhenIdle();  // after the OpenTarget: its CloseOldLink is about this link
  freshLink();
  nextEcho_ = kNoDeadline;
  startAttempt(now);
}

// One claim attempt: a new handshake (fresh sequences, same SID and keys).
// The owner's 1/7 answer (PROTOCOL 10.2): the application sees it as a response; with
// the 7.4 body it is also our migrate answer, else (stays where it is, or Bad) the held go out.
void UdpSession::handleRoomAnswer(const PacketView& p, const Bytes& body, double now) {
  emit(room::migrateResponse(p.status, body));
  roomMigrate_ = false;
  if (p.status == wire::kStatusOk && !body.empty()) return handleMigrateAnswer(p, body, now);
  mig_ = MigPhase::None;
  state_ = ClientState::Connected;
  flushHeld(now);
}

// A migration the server starts (PROTOCOL 10.2): ver 0 cmd 2 pushed with the 7.4 body,
// carried out as if we had sent the migrate request and got that answer.
void UdpSession::handleMigratePush(const PacketView& p, const Bytes& body, double now) {
  if ((mig_ != MigPhase::None && mig_ != MigPhase::Requested) ||
      (state_ != ClientState::Connected && state_ != ClientState::Migrating)) {
    stats_.drop(DropReason::Unexpected);
    return;
  }
  if (mig_ == MigPhase::None) migStart_ = now;
  if (roomMigrate_) emit(room::migrateResponse(wire::kStatusOk, Bytes()));  // our own 1/7 is dropped by the node: this push answers it
  mig_ = MigPhase::Requested;
  roomMigrate_ = false;
  pushStarted_ = true;
  state_ = ClientState::Migrating;
  autoRetryAt_ = roomWaitDeadline_ = kNoDeadline;
  handleMigrateAnswer(room::pushAsAnswer(p), body, now);
  pushStarted_ = false;
}

// After a server-started migration: once the old node acknowledged every DAT of ours,
// our FIN ends the old link (the node serves what it got until then). After an answer
// the old node ends it (its FIN, or lingerMs): an ACK it flushed after the answer
// (records are batched behind the DATs of a turn) must not close it early.
void UdpSession::endOldLinkWhenIdle() {
  if (!old_ || !oldCarriesOurs_ || !old_->idle()) return;
  Bytes d;
  rudp::appendHeader(d, 0, rudp::Flag::Fin);
  d.insert(d.end(), crypto_.keys().sid.begin(), crypto_.keys().sid.end());
  oldOut_.push_back(std::move(d));
  closeOldLink();
}

void UdpSession::startAttempt(double now) {
  if (now >= handoffDeadline_) {
    finish(ErrorCode::MigrationFailed,
           "could not claim the session at " + target_ + " within " +
               std::to_string(static_cast<long long>(options_.handoffTtlMs)) + " ms after " +
               std::to_string(attempts_) + " attempts: " + lastFailure_);
    return;
  }
  ++attempts_;
  retryAt_ = kNoDeadline;
  mig_ = MigPhase::Handshake;
  claimDeadline_ = std::min(now + options_.connectTimeoutMs, handoffDeadline_);
  sendSyn(now);
}

void UdpSession::sendClaim(double now) {
  Bytes packet;
  if (crypto_.appendRequest(packet, wire::kVerBuiltin, wire::kCmdReconn, ticket_.data(), ticket_.size(),
                            options_.maxPayload) != ErrorCode::None) {
    return;  // only with an absurdly small maxPayload; the claim deadline reports it
  }
  sendPacket(std::move(packet), false, now);
}

void UdpSession::attemptFailed(const std::string& why, double now) {
  lastFailure_ = why;
  collect();  // ACKs already queued still leave on this socket
  freshLink();  // the attempt's channel holds only our claim: nothing budgeted
  finReason_.clear();
  finCode_ = ErrorCode::None;
  nextSyn_ = claimDeadline_ = kNoDeadline;
  mig_ = MigPhase::Backoff;
  if (now >= handoffDeadline_) {
    startAttempt(now);  // reports MigrationFailed
    return;
  }
  retryAt_ = std::min(now + backoff(attempts_ - 1), handoffDeadline_);
}

void UdpSession::handleClaimAnswer(const PacketView& p, double now) {
  if (p.status != wire::kStatusOk) {
    attemptFailed("the target answered the claim with status " + std::to_string(p.status), now);
    return;
  }
  Event mig;
  mig.type = EventType::Migrated;
  mig.from = peer_;
  mig.address = target_;
  mig.rttMs = now - migStart_;
  peer_ = target_;
  mig_ = MigPhase::None;
  state_ = ClientState::Connected;
  claimDeadline_ = handoffDeadline_ = kNoDeadline;
  offlineRaised_ = false;  // once per node: the new node may go offline too
  stats_.add(&Stats::migrations);
  Event con;
  con.type = EventType::Connect;
  con.reconnected = true;
  emit(std::move(con));
  emit(std::move(mig));
  // In order, after the claim; after a push, only once the old node has every DAT of
  // ours: it forwards late ones here, where they are served as they come.
  releaseAfterOld_ = old_ != nullptr && oldCarriesOurs_;
  const bool carrying = !held_.empty() && releaseHeld(now);
  lastHeard_ = now;
  // The echo rides in the DAT of the released requests, where it costs no datagram. Alone it
  // would cost the target a DAT each way and their ACKs (4 of a move's ~23 datagrams, issue 12)
  // and split the application's first request from it: the claim already completed the
  // handshake and gave an RTT sample, so an idle client's next echo keeps its interval.
  if (carrying) sendEcho(now);
  else nextEcho_ = now + options_.echoIntervalMs;
  // The held requests waited for the whole move: they (and the echo) leave in this
  // turn, not after the pack delay (the next loop iteration of a busy host, issue 12).
  // The answer's ACK keeps the ACK delay: its RDAT follows at once (a node's first DAT
  // goes as both), and one datagram then carries both records.
  channel_->flushNow(now);
}

bool UdpSession::releaseHeld(double now) {
  if (releaseAfterOld_ && old_ && oldCarriesOurs_ && !old_->idle()) return false;
  releaseAfterOld_ = false;
  flushHeld(now);
  return true;
}

void UdpSession::releaseHeldIfOldDone(double now) {
  if (releaseHeld(now) && channel_) channel_->flushNow(now);
}

double UdpSession::backoff(uint32_t attempt) {
  return migrationBackoff(attempt, options_.migrateRetryMinMs, options_.migrateRetryMaxMs, rng_);
}

// --- the old node's link -----------------------------------------------------

void UdpSession::onOldLinkDatagram(const uint8_t* data, size_t len, double now) {
  stats_.add(&Stats::packetsReceived);
  stats_.add(&Stats::bytesReceived, len);
  if (!old_) {
    stats_.drop(DropReason::Unexpected);
    return;
  }
  if (rudp::isTerminate(data, len)) {
    closeOldLink();
    if (releaseAfterOld_) releaseHeldIfOldDone(now);
    return;
  }
  rudp::Header h;
  DropReason reason = DropReason::Unexpected;
  if (!rudp::decodeHeader(data, len, h, reason)) {
    stats_.drop(reason);
    return;
  }
  switch (h.flag) {
    case rudp::Flag::Dat:
    case rudp::Flag::Rdat: {
      // A retransmission (our ACK was lost): acknowledge it again, so the node can close.
      old_->onData(h.seq, h.flag == rudp::Flag::Rdat, data + rudp::kHeaderSize, len - rudp::kHeaderSize, now);
      scratch_.clear();
      old_->takeDelivered(scratch_);
      for (size_t i = 0; i < scratch_.size(); ++i) stats_.drop(DropReason::Unexpected);  // nothing follows the answer
      scratch_.clear();
      old_->takeDatagrams(oldOut_);
      return;
    }
    case rudp::Flag::Fin: {
      Bytes d;
      rudp::appendAckRecord(d, 0, false, crypto_.keys().sid.data(), wire::kSidSize);
      oldOut_.push_back(std::move(d));
      closeOldLink();
      if (releaseAfterOld_) releaseHeldIfOldDone(now);
      return;
    }
    case rudp::Flag::Ack:
    case rudp::Flag::Rack: {
      // Only DATs of a server-started migration are still there; after an answer these are
      // late ACKs of forgotten DATs (counted as duplicates by the channel).
      std::vector<rudp::AckRecord> recs;
      if (!rudp::decodeAckRecords(data, len, rudp::kServerRecordSize, recs, reason)) {
        stats_.drop(reason);
        return;
      }
      for (const auto& r : recs) old_->onAck(r, now);
      if (budget_.release(old_->takeReleasedBytes())) {
        Event ev;
        ev.type = EventType::Drain;
        emit(std::move(ev));
      }
      endOldLinkWhenIdle();
      if (releaseAfterOld_) releaseHeldIfOldDone(now);
      return;
    }
    case rudp::Flag::Syn:
    case rudp::Flag::Udp:
      break;
  }
  stats_.drop(DropReason::Unexpected);
}

void UdpSession::closeOldLink() {
  if (!old_) return;
  old_->takeDatagrams(oldOut_);
  old_->forgetOutgoing();  // what the old node never acknowledged is given up with the link
  (void)budget_.release(old_->takeReleasedBytes());
  old_.reset();
  oldCarriesOurs_ = false;
  oldDeadline_ = kNoDeadline;
  PendingAction close;
  close.action = LinkAction::CloseOldLink;
  close.last.swap(oldOut_);
  actions_.push_back(std::move(close));
}

bool UdpSession::takeOldLinkDatagrams(std::vector<Bytes>& out) {
  if (!actions_.empty()) return false;  // they follow the pending actions (takeLinkAction)
  if (old_) old_->takeDatagrams(oldOut_);
  return moveCounted(oldOut_, out);
}

bool UdpSession::moveCounted(std::vector<Bytes>& from, std::vector<Bytes>& out) {
  if (from.empty()) return false;
  for (Bytes& d : from) {
    stats_.add(&Stats::packetsSent);
    stats_.add(&Stats::bytesSent, d.size());
    out.push_back(std::move(d));
  }
  from.clear();
  return true;
}

UdpSession::LinkAction UdpSession::takeLinkAction(std::string& host, uint16_t& port, std::vector<Bytes>& last) {
  if (actions_.empty()) return LinkAction::None;
  const LinkAction a = actions_.front().action;
  (void)moveCounted(actions_.front().last, last);
  actions_.pop_front();
  if (a == LinkAction::OpenTarget) {
    host = targetHost_;
    port = targetPort_;
  }
  return a;
}

// held_ -> UnsentPacket list: our own request packets (header || SID || secure(body)).
void UdpSession::decodeHeld() {
  Bytes body;
  for (const Held& h : held_) {
    const Bytes& pk = h.packet;
    if (!h.budgeted || pk.size() < wire::kRequestHeaderSize + wire::kSidSize) continue;
    const size_t len = static_cast<size_t>(pk[5]) << 16 | static_cast<size_t>(pk[6]) << 8 | pk[7];
    if (pk.size() != wire::kRequestHeaderSize + len) continue;
    DropReason reason = DropReason::Unexpected;
    const uint8_t* payload = pk.data() + wire::kRequestHeaderSize + wire::kSidSize;
    if (!crypto_.open(payload, len - wire::kSidSize, body, reason)) continue;
    UnsentPacket u;
    u.ver = pk[4];
    u.cmd = static_cast<uint16_t>(pk[8] << 8 | pk[9]);
    u.body = body;
    unsent_.push_back(std::move(u));
  }
}

}  // namespace diarkis
