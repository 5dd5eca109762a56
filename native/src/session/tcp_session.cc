#include "session/tcp_session.h"
#include "session/room_rules.h"
#include "session/sink_post.h"

#include <algorithm>
#include <cstring>

namespace diarkis {
namespace {

void putF64LE(uint8_t* out, double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(bits >> (8 * i));
}

double getF64LE(const uint8_t* in) {
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(in[i]) << (8 * i);
  double v = 0;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Fin push reasons (PROTOCOL section 5, ours) -> the code the following close reports.
ErrorCode finReasonCode(const std::string& reason) {
  if (reason == "server-shutdown") return ErrorCode::ServerShutdown;
  if (reason == "refused") return ErrorCode::Refused;
  if (reason == "timeout") return ErrorCode::Timeout;
  if (reason == "kicked") return ErrorCode::Kicked;
  return ErrorCode::ClosedByServer;
}

bool isLive(ClientState s) {
  return s == ClientState::Connecting || s == ClientState::Connected || s == ClientState::Migrating;
}

}  // namespace

TcpSession::TcpSession(const TcpOptions& options, const SessionKeys& keys, Stats& stats,
                       SendBudget& budget)
    : options_(options), crypto_(keys), stats_(stats), budget_(budget),
      reassembler_(options.maxPayload),
      rng_(options.rngSeed != 0 ? options.rngSeed : std::random_device{}()) {}

void TcpSession::start(double now) {
  if (state_ != ClientState::Idle) return;
  state_ = ClientState::Connecting;
  connectDeadline_ = now + options_.connectTimeoutMs;
}

void TcpSession::onSocketConnected(double now) {
  if (closed() || socketConnected_) return;
  lastNow_ = now;
  socketConnected_ = true;
  writeOpeningRequest(now);
}

// The first request on a connection: the claim at a migration target, else a heartbeat.
void TcpSession::writeOpeningRequest(double now) {
  if (mig_ == MigPhase::Connecting) {
    mig_ = MigPhase::Claiming;
    writeInternal(wire::kCmdReconn, ticket_.data(), ticket_.size());
    return;
  }
  writeHeartbeat(now);
  nextHeartbeat_ = now + options_.heartbeatIntervalMs;
}

void TcpSession::writeHeartbeat(double now) {
  uint8_t body[8];
  putF64LE(body, now);
  writeInternal(wire::kCmdKeepAlive, body, sizeof body);
  stats_.add(&Stats::heartbeatsSent);
}

// A built-in request of ours (heartbeat, migrate, claim): not in the SendBudget.
void TcpSession::writeInternal(uint16_t cmd, const uint8_t* body, size_t len) {
  const uint64_t begin = streamWritten_ + outputSize();
  if (crypto_.appendRequest(out_, wire::kVerBuiltin, cmd, body, len, options_.maxPayload) != ErrorCode::None) {
    return;  // only with an absurdly small maxPayload; the timeouts report it
  }
  internal_.emplace_back(begin, streamWritten_ + outputSize());
  stats_.add(&Stats::packetsSent);
}

ErrorCode TcpSession::send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable) {
  if (!isLive(state_)) return ErrorCode::NotConnected;
  // Encoded straight into the output (or the held bytes): no packet buffer per request
  // (issue 9, fifth session). appendRequest writes nothing when it refuses.
  const bool held = holding();
  Bytes& target = held ? held_ : out_;
  const size_t before = target.size();
  const ErrorCode enc = crypto_.appendRequest(target, ver, cmd, body, len, options_.maxPayload);
  if (enc != ErrorCode::None) return enc;
  const ErrorCode res = budget_.reserve(target.size() - before, writable);
  if (res != ErrorCode::None) {
    target.resize(before);
    return res;
  }
  if (held) {
    ++heldPackets_;
    return ErrorCode::None;
  }
  stats_.add(&Stats::packetsSent);
  if (room::isRoomMigrateRequest(ver, cmd)) beginRoomMigrate();
  return ErrorCode::None;
}

// The owner's 1/7 (PROTOCOL 10.2) just went out: its answer may move us, so what follows is held.
void TcpSession::beginRoomMigrate() {
  if (state_ != ClientState::Connected) return;
  mig_ = MigPhase::Requested;
  roomMigrate_ = true;
  state_ = ClientState::Migrating;
  migStart_ = lastNow_;
  autoRetryAt_ = roomWaitDeadline_ = kNoDeadline;
}

void TcpSession::enqueueEncoded(Bytes&& packet) {
  if (!isLive(state_)) {
    release(packet.size());
    return;
  }
  if (holding()) {
    held_.insert(held_.end(), packet.begin(), packet.end());
    ++heldPackets_;
    return;
  }
  const bool roomMigrate = packet.size() >= wire::kRequestHeaderSize &&
                           room::isRoomMigrateRequest(packet[4], static_cast<uint16_t>(packet[8] << 8 | packet[9]));
  out_.insert(out_.end(), packet.begin(), packet.end());
  stats_.add(&Stats::packetsSent);
  if (roomMigrate) beginRoomMigrate();
}

void TcpSession::onData(const uint8_t* data, size_t len, double now) {
  if (closed()) return;
  lastNow_ = now;
  stats_.add(&Stats::bytesReceived, len);
  // Packets are parsed in the read buffer itself and decrypted straight into the event's
  // payload; only a packet split across reads is copied (into the reassembler).
  PacketView p;
  while (!closed()) {
    const ParseStatus st = reassembler_.next(data, len, p);
    if (st == ParseStatus::NeedMore) break;
    if (st == ParseStatus::Error) {
      stats_.drop(reassembler_.error());
      finish(ErrorCode::ProtocolError,
             std::string("protocol error: ") + dropReasonName(reassembler_.error()));
      break;
    }
    stats_.add(&Stats::packetsReceived);
    handlePacket(p, now);
    // The migrate answer ends this stream for us: what follows it is discarded.
    if (socketActionPending()) break;
  }
}

void TcpSession::noteMembership(const PacketView& p) {
  const int change = room::membershipChange(p);
  if (change != 0) inRoom_ = change > 0;
}

void TcpSession::handlePacket(const PacketView& p, double now) {
  // The sink only when nothing emitted before waits here: the host's queue keeps our order.
  if (sink_ != nullptr && events_.empty() && sink::plainPacket(p, mig_ == MigPhase::Requested && roomMigrate_)) {
    DropReason reason = DropReason::Unexpected;
    switch (sink::post(*sink_, sinkId_, crypto_, p, reason)) {
      case PacketPost::Queued:
      case PacketPost::Dropped:
        if (p.status != wire::kStatusPush) noteMembership(p);
        return;
      case PacketPost::Failed:
        return dropPacket(p, reason, now);
      case PacketPost::Declined:
        break;
    }
  }
  Bytes body;
  DropReason reason = DropReason::Unexpected;
  if (!crypto_.open(p.payload, p.len, body, reason)) return dropPacket(p, reason, now);
  const bool push = p.status == wire::kStatusPush;
  if (!push && p.ver == room::kVer) {
    noteMembership(p);
    if (p.cmd == room::kCmdMigrate && mig_ == MigPhase::Requested && roomMigrate_) return handleRoomAnswer(p, body, now);
  }
  if (push && p.ver == wire::kVerBuiltin && p.cmd == wire::kCmdReconn) return handleMigratePush(p, body, now);
  if (p.ver == wire::kVerBuiltin && p.cmd == wire::kCmdReconn && !push) {
    if (mig_ == MigPhase::Requested && !roomMigrate_) return handleMigrateAnswer(p, body, now);
    if (mig_ == MigPhase::Claiming) return handleClaimAnswer(p, now);
  }
  if (mig_ == MigPhase::Claiming && p.ver == wire::kVerBuiltin && p.cmd == wire::kCmdFin && push) {
    attemptFailed("the target refused the claim: " + std::string(body.begin(), body.end()), now);
    return;
  }
  if (p.ver == wire::kVerBuiltin && p.cmd == wire::kCmdKeepAlive && !push) {
    handleHeartbeatAnswer(body, now);
    return;
  }
  if (p.ver == wire::kVerBuiltin && push &&
      (p.cmd == wire::kCmdKeepAlive || p.cmd == wire::kCmdFin)) {
    handleBuiltinPush(p, body, now);
    return;
  }
  Event ev;
  ev.type = push ? EventType::Push : EventType::Response;  // Notification (0/400) is a push
  ev.ver = p.ver;
  ev.cmd = p.cmd;
  ev.status = p.status;
  ev.payload = std::move(body);
  emit(std::move(ev));
}

// Not fatal: the stream is intact, only this packet is unusable.
void TcpSession::dropPacket(const PacketView& p, DropReason reason, double now) {
  stats_.drop(reason);
  if (mig_ == MigPhase::Claiming && p.ver == wire::kVerBuiltin && p.cmd == wire::kCmdFin) {
    // A refusal before the claim authenticated goes in clear (PROTOCOL 7.6).
    attemptFailed("the target refused the claim", now);
    return;
  }
  Event ev;
  ev.type = EventType::Error;
  ev.code = reason == DropReason::BadMac ? ErrorCode::BadMac : ErrorCode::ProtocolError;
  ev.ver = p.ver;
  ev.cmd = p.cmd;
  ev.message = std::string("dropped packet ver ") + std::to_string(p.ver) + " cmd " +
               std::to_string(p.cmd) + ": " + dropReasonName(reason);
  emit(std::move(ev));
}

void TcpSession::handleHeartbeatAnswer(const Bytes& body, double now) {
  if (body.size() < 9) {
    stats_.drop(DropReason::BadBody);
    Event ev;
    ev.type = EventType::Error;
    ev.code = ErrorCode::ProtocolError;
    ev.message = "dropped heartbeat answer: body shorter than 9 bytes";
    emit(std::move(ev));
    return;
  }
  stats_.add(&Stats::heartbeatsAnswered);
  lastAnswer_ = now;
  if (!answered_) becomeConnected(now);
  Event ev;
  ev.type = EventType::Heartbeat;
  ev.rttMs = std::max(0.0, now - getF64LE(body.data() + 1));
  emit(std::move(ev));
  if (body[0] == wire::kNodeOffline) raiseOffline(now);
}

void TcpSession::handleBuiltinPush(const PacketView& p, const Bytes& body, double now) {
  if (p.cmd == wire::kCmdKeepAlive) {  // offline notice: raises Offline only, never an RTT
    if (body.empty()) {
      stats_.drop(DropReason::BadBody);
      return;
    }
    if (body[0] == wire::kNodeOffline) raiseOffline(now);
    return;
  }
  // Fin: remembered; the close that follows reports it.
  finReason_.assign(body.begin(), body.end());
  finCode_ = finReasonCode(finReason_);
}

void TcpSession::becomeConnected(double now) {
  answered_ = true;
  connectDeadline_ = kNoDeadline;
  if (nextHeartbeat_ <= now) nextHeartbeat_ = now + options_.heartbeatIntervalMs;
  flushHeld();
  if (state_ == ClientState::Connecting) {
    state_ = ClientState::Connected;
    Event ev;
    ev.type = EventType::Connect;
    ev.reconnected = false;
    emit(std::move(ev));
  }
}

void TcpSession::flushHeld() {
  out_.insert(out_.end(), held_.begin(), held_.end());
  stats_.add(&Stats::packetsSent, heldPackets_);
  Bytes().swap(held_);
  heldPackets_ = 0;
}

void TcpSession::raiseOffline(double now) {
  if (offlineRaised_) return;
  offlineRaised_ = true;
  Event ev;
  ev.type = EventType::Offline;
  emit(std::move(ev));
  if (!options_.autoMigrate) return;
  // In a room: the room's migration moves us (PROTOCOL 10.1), bounded by the handoff TTL.
  if (inRoom_) {
    roomWaitDeadline_ = now + options_.handoffTtlMs;
  } else {
    sendMigrate(now);
  }
}

void TcpSession::onEof(double now) {
  if (closed()) return;
  if (mig_ == MigPhase::Connecting || mig_ == MigPhase::Claiming) {
    attemptFailed(finCode_ != ErrorCode::None ? "the target closed the connection: " + finReason_
                                              : "the target closed the connection",
                  now);
    return;
  }
  if (mig_ == MigPhase::Backoff) return;  // the failed attempt's socket: already given up
  if (state_ == ClientState::Closing) {
    finish(ErrorCode::ClosedByUser, "the server closed the connection while it was flushed");
  } else if (finCode_ != ErrorCode::None) {
    finish(finCode_, "server said: " + finReason_);
  } else {
    finish(ErrorCode::ClosedByServer, "the server closed the connection");
  }
}

void TcpSession::onSocketError(ErrorCode code, const std::string& message, double now) {
  if (closed()) return;
  if (mig_ == MigPhase::Connecting || mig_ == MigPhase::Claiming) {
    attemptFailed(message, now);
    return;
  }
  if (mig_ == MigPhase::Backoff) return;
  if (finCode_ != ErrorCode::None) {
    finish(finCode_, "server said: " + finReason_ + " (then: " + message + ")");
  } else {
    finish(code, message);
  }
}

void TcpSession::setReceivePaused(bool paused, double now) {
  if (closed() || paused == receivePaused_) return;
  receivePaused_ = paused;
  if (paused) {
    stallDeadline_ = now + options_.maxReceiveStallMs;
    return;
  }
  stallDeadline_ = kNoDeadline;
  // The answers waited behind the pushes: the heartbeats in flight get one interval from now.
  const double interval = options_.heartbeatIntervalMs;
  lastAnswer_ = std::max(lastAnswer_, now - interval * (static_cast<double>(options_.heartbeatMissLimit) - 1));
}

double TcpSession::nextDeadline() const {
  if (closed()) return kNoDeadline;
  double d = std::min(closeDeadline_, connectDeadline_);
  d = std::min(d, std::min(retryAt_, std::min(autoRetryAt_, roomWaitDeadline_)));
  d = std::min(d, stallDeadline_);
  if (answered_ && state_ != ClientState::Closing &&
      (mig_ == MigPhase::None || mig_ == MigPhase::Requested)) {
    if (!receivePaused_) d = std::min(d, lastAnswer_ + options_.heartbeatIntervalMs * options_.heartbeatMissLimit);
    d = std::min(d, nextHeartbeat_);
  }
  return d;
}

void TcpSession::onTimer(double now) {
  if (closed()) return;
  lastNow_ = now;
  if (stallDeadline_ <= now) {
    finish(ErrorCode::ReceiveStalled, "the application read no events for " +
                                          std::to_string(static_cast<long long>(options_.maxReceiveStallMs)) +
                                          " ms past the receive high-water mark");
    return;
  }
  if (closeDeadline_ <= now) {
    finish(ErrorCode::ClosedByUser, "close timed out with " +
                                        std::to_string(outputSize() + held_.size()) +
                                        " bytes unsent");
    return;
  }
  if (connectDeadline_ <= now && (mig_ == MigPhase::Connecting || mig_ == MigPhase::Claiming)) {
    attemptFailed(mig_ == MigPhase::Connecting ? "the target's socket did not connect in time"
                                               : "no answer to the claim in time",
                  now);
    return;
  }
  if (retryAt_ <= now) {
    retryAt_ = kNoDeadline;
    connectTarget(now);
    return;
  }
  if (autoRetryAt_ <= now) {
    autoRetryAt_ = kNoDeadline;
    sendMigrate(now);
  }
  if (roomWaitDeadline_ <= now) {
    // The room did not move us in time: migrate alone and leave the room (PROTOCOL 10.1).
    roomWaitDeadline_ = kNoDeadline;
    inRoom_ = false;
    emit(room::waitTimedOut());
    sendMigrate(now);
  }
  if (connectDeadline_ <= now) {
    finish(ErrorCode::ConnectTimeout, socketConnected_ ? "no answer to the first heartbeat"
                                                       : "the socket did not connect");
    return;
  }
  if (!answered_ || state_ == ClientState::Closing) return;
  if (mig_ != MigPhase::None && mig_ != MigPhase::Requested) return;
  const double interval = options_.heartbeatIntervalMs;
  if (nextHeartbeat_ + interval <= now) {
    // The host stalled past our own cadence (a blocked JS thread on the host-loop
    // driver): the heartbeats we did not send cannot have been missed. The one
    // sent now gets at least one interval to be answered.
    const double limit = static_cast<double>(options_.heartbeatMissLimit);
    lastAnswer_ = std::max(lastAnswer_, now - interval * (limit - 1));
  }
  if (!receivePaused_ && lastAnswer_ + interval * options_.heartbeatMissLimit <= now) {
    finish(ErrorCode::Timeout, "no heartbeat answer for " +
                                   std::to_string(options_.heartbeatMissLimit) + " intervals");
    return;
  }
  if (nextHeartbeat_ <= now) {
    writeHeartbeat(now);
    // Keep the cadence anchored; if the loop ran late, restart it from now.
    nextHeartbeat_ += interval;
    if (nextHeartbeat_ <= now) nextHeartbeat_ = now + interval;
  }
}

void TcpSession::close(bool graceful, double now) {
  if (closed()) return;
  if (mig_ != MigPhase::None) {
    // Mid-migration there is no node to flush the held requests to: they are handed back.
    finish(ErrorCode::ClosedByUser, "closed during a migration");
    return;
  }
  if (!graceful || state_ == ClientState::Idle || (outputSize() == 0 && held_.empty())) {
    finish(ErrorCode::ClosedByUser, graceful ? "" : "destroyed");
    return;
  }
  if (state_ == ClientState::Closing) return;
  state_ = ClientState::Closing;
  closeDeadline_ = now + options_.closeTimeoutMs;
  // An unanswered connection still has its connect timeout, but the close bound is the one we keep.
  connectDeadline_ = kNoDeadline;
}

void TcpSession::consumeOutput(size_t n, double now) {
  (void)now;
  n = std::min(n, outputSize());
  if (n == 0) return;
  const uint64_t begin = streamWritten_;
  const uint64_t end = begin + n;
  uint64_t internal = 0;
  while (!internal_.empty() && internal_.front().first < end) {
    auto& r = internal_.front();
    const uint64_t lo = std::max(r.first, begin);
    const uint64_t hi = std::min(r.second, end);
    if (hi > lo) internal += hi - lo;
    if (r.second <= end) {
      internal_.pop_front();
    } else {
      break;
    }
  }
  stats_.add(&Stats::bytesSent, n);
  streamWritten_ = end;
  outPos_ += n;
  if (outPos_ == out_.size()) {
    out_.clear();
    outPos_ = 0;
  } else if (outPos_ >= (64u << 10) && outPos_ * 2 >= out_.size()) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(outPos_));
    outPos_ = 0;
  }
  release(static_cast<size_t>(n - internal));
  maybeFinishClose();
}

void TcpSession::release(size_t n) {
  if (budget_.release(n) && isLive(state_)) {
    Event ev;
    ev.type = EventType::Drain;
    emit(std::move(ev));
  }
}

void TcpSession::maybeFinishClose() {
  if (state_ == ClientState::Closing && outputSize() == 0 && held_.empty()) {
    finish(ErrorCode::ClosedByUser, "");
  }
}

void TcpSession::finish(ErrorCode code, const std::string& message) {
  if (closed()) return;
  state_ = ClientState::Closed;
  decodeHeld();  // what was held is handed back (TakeUnsent), never silently dropped
  mig_ = MigPhase::None;
  retryAt_ = autoRetryAt_ = handoffDeadline_ = roomWaitDeadline_ = kNoDeadline;
  roomMigrate_ = false;
  connectWanted_ = false;
  // Everything still queued is dropped: hand its bytes back to the budget.
  uint64_t internal = 0;
  for (const auto& r : internal_) internal += r.second - std::max(r.first, streamWritten_);
  release(held_.size() + static_cast<size_t>(outputSize() - internal));
  Bytes().swap(out_);
  Bytes().swap(held_);
  outPos_ = 0;
  internal_.clear();
  heldPackets_ = 0;
  connectDeadline_ = nextHeartbeat_ = closeDeadline_ = stallDeadline_ = kNoDeadline;
  receivePaused_ = false;
  Event ev;
  ev.type = EventType::Disconnect;
  ev.code = code;
  ev.message = message;
  emit(std::move(ev));
}

bool TcpSession::takeEvents(std::vector<Event>& out) {
  if (events_.empty()) return false;
  if (out.empty()) {
    out.swap(events_);
  } else {
    for (auto& e : events_) out.push_back(std::move(e));
    events_.clear();
  }
  return true;
}

}  // namespace diarkis
