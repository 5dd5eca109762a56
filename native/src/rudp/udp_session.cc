#include "rudp/udp_session.h"
#include "session/room_rules.h"
#include "session/sink_post.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "rudp/datagram.h"

namespace diarkis {

namespace {

rudp::ReliableConfig channelConfig(const UdpOptions& o, const SessionKeys& keys) {
  rudp::ReliableConfig c;
  c.retryMinMs = o.retryMinMs;
  c.retryMaxMs = o.retryMaxMs;
  c.maxRetries = o.maxRetries;
  c.adaptive = o.adaptive;
  c.rtoMinMs = o.rtoMinMs;
  c.sendWindow = o.sendWindow;
  c.recvWindow = o.recvWindow;
  c.maxDatagramBody = o.maxDatagramBody;
  c.packDelayMs = o.packDelayMs;
  c.ackDelayMs = o.ackDelayMs;
  c.ackSuffix.assign(keys.sid.begin(), keys.sid.end());  // client records: header || SID
  return c;
}

void putF64LE(Bytes& out, double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}

double getF64LE(const uint8_t* p) {
  uint64_t bits = 0;
  for (int i = 7; i >= 0; --i) bits = (bits << 8) | p[i];
  double v = 0;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// Fin push reason (PROTOCOL.md section 5) -> disconnect code.
ErrorCode finReasonCode(const std::string& reason) {
  if (reason == "server-shutdown") return ErrorCode::ServerShutdown;
  if (reason == "refused") return ErrorCode::Refused;
  if (reason == "timeout") return ErrorCode::Timeout;
  if (reason == "kicked") return ErrorCode::Kicked;
  return ErrorCode::ClosedByServer;
}

}  // namespace

UdpSession::UdpSession(const UdpOptions& options, const SessionKeys& keys, Stats& stats,
                       SendBudget& budget)
    : UdpSession(std::make_shared<const UdpOptions>(options), keys, stats, budget) {}

UdpSession::UdpSession(std::shared_ptr<const UdpOptions> options, const SessionKeys& keys, Stats& stats,
                       SendBudget& budget)
    : sharedOptions_(std::move(options)),
      options_(*sharedOptions_),
      crypto_(keys),
      stats_(stats),
      budget_(budget),
      channel_(std::make_unique<rudp::ReliableChannel>(channelConfig(options_, keys), stats)),
      fragmenter_(options_.fragmentSize),
      // Incoming chunks are cut by the server at the protocol's 1300 bytes.
      reassembler_(options_.maxPayload + wire::kResponseHeaderSize + wire::kSidSize,
                   rudp::kDefaultFragmentSize),
      rng_(options_.rngSeed) {}

// Callers collect() what the previous channel queued first.
void UdpSession::freshLink() {
  channel_ = std::make_unique<rudp::ReliableChannel>(channelConfig(options_, crypto_.keys()), stats_);
  fragmenter_ = rudp::Fragmenter(options_.fragmentSize);
  reassembler_ = rudp::Reassembler(options_.maxPayload + wire::kResponseHeaderSize + wire::kSidSize,
                                   rudp::kDefaultFragmentSize);
  channel_->setRefuseNew(receivePaused_);
  stats_.reassemblyBytes.store(0, std::memory_order_relaxed);
  handshaked_ = false;
  serverSeq_ = 0;
  synsSent_ = 0;
  ++linkGen_;
}

// --- output plumbing ---------------------------------------------------------

void UdpSession::collect() {
  scratch_.clear();
  channel_->takeDatagrams(scratch_);
  for (Bytes& d : scratch_) out_.push_back(std::move(d));
  scratch_.clear();
}

void UdpSession::collectReady() {
  scratch_.clear();
  channel_->takeReadyDatagrams(scratch_);
  for (Bytes& d : scratch_) out_.push_back(std::move(d));
  scratch_.clear();
}

void UdpSession::push(Bytes datagram) {
  collectReady();
  out_.push_back(std::move(datagram));
}

bool UdpSession::takeDatagrams(std::vector<Bytes>& out) {
  collect();
  return takeReadyDatagrams(out);
}

bool UdpSession::takeReadyDatagrams(std::vector<Bytes>& out) {
  collectReady();
  if (out_.empty()) return false;
  for (Bytes& d : out_) {
    stats_.add(&Stats::packetsSent);
    stats_.add(&Stats::bytesSent, d.size());
    out.push_back(std::move(d));
  }
  out_.clear();
  return true;
}

bool UdpSession::takeEvents(std::vector<Event>& out) {
  if (events_.empty()) return false;
  if (out.empty()) {
    out.swap(events_);  // the storage goes with them: none kept here while idle
    return true;
  }
  for (Event& e : events_) out.push_back(std::move(e));
  events_.clear();
  return true;
}

// --- handshake ---------------------------------------------------------------

void UdpSession::start(double now) {
  if (state_ != ClientState::Idle) return;
  state_ = ClientState::Connecting;
  connectDeadline_ = now + options_.connectTimeoutMs;
  sendSyn(now);
}

void UdpSession::sendSyn(double now) {
  Bytes d;
  rudp::appendHeader(d, 0, rudp::Flag::Syn);
  d.insert(d.end(), crypto_.keys().sid.begin(), crypto_.keys().sid.end());
  push(std::move(d));
  if (synsSent_++ == 0) synSentAt_ = now;
  // Four repeats at the interval (a lossy link connects as fast as before), then
  // they back off (x2, up to 8 intervals): a node too busy to answer is not sent
  // ever more SYNs by every client waiting for it.
  const uint32_t doublings = synsSent_ <= 4 ? 0 : std::min<uint32_t>(synsSent_ - 4, 3);
  nextSyn_ = now + options_.synIntervalMs * static_cast<double>(1u << doublings);
}

void UdpSession::sendAckRecord(uint32_t seq) {
  Bytes d;
  rudp::appendAckRecord(d, seq, false, crypto_.keys().sid.data(), wire::kSidSize);
  push(std::move(d));
}

void UdpSession::completeHandshake(uint32_t seq, double now) {
  handshaked_ = true;
  serverSeq_ = seq;
  nextSyn_ = kNoDeadline;
  connectDeadline_ = kNoDeadline;
  sendAckRecord(seq);  // ACK S, body SID
  channel_->start(0, seq, now);  // our first DAT carries 0, the server's S
  if (synsSent_ == 1) channel_->seedRtt(now - synSentAt_);
  synsSent_ = 0;
  if (mig_ == MigPhase::Handshake) {
    // At the migration target: the claim is the first DAT, alone; nothing else
    // goes until it is answered (the target acknowledges only a claim before binding).
    mig_ = MigPhase::Claiming;
    sendClaim(now);
    channel_->flushNow(now);
    afterChannel(now);
    return;
  }
  state_ = ClientState::Connected;
  Event ev;
  ev.type = EventType::Connect;
  emit(std::move(ev));
  sendOpening(now);
  flushHeld(now);
  // An echo at once: early RTT and public address, and a DAT that completes the
  // server's side of the handshake even if our ACK S was lost.
  lastHeard_ = now;
  sendEcho(now);
  channel_->flushNow(now);  // the first DAT binds the session at the node: no pack delay
  afterChannel(now);
}

// The first reliable request after the handshake: the ClientKey today; at a
// migration target the claim would go here first.
void UdpSession::sendOpening(double now) {
  if (options_.clientKey.empty()) return;
  Bytes packet;
  const auto* key = reinterpret_cast<const uint8_t*>(options_.clientKey.data());
  if (crypto_.appendRequest(packet, wire::kVerBuiltin, wire::kCmdClientKey, key,
                            options_.clientKey.size(), options_.maxPayload) != ErrorCode::None) {
    return;
  }
  sendPacket(std::move(packet), false, now);
}

void UdpSession::sendEcho(double now) {
  Bytes body;
  putF64LE(body, now);
  for (const std::string& a : options_.localAddresses) {
    const auto n = static_cast<uint32_t>(a.size());
    for (int s = 24; s >= 0; s -= 8) body.push_back(static_cast<uint8_t>(n >> s));
    body.insert(body.end(), a.begin(), a.end());
  }
  Bytes packet;
  if (crypto_.appendRequest(packet, wire::kVerBuiltin, wire::kCmdKeepAlive, body.data(), body.size(),
                            options_.maxPayload) != ErrorCode::None) {
    return;
  }
  sendPacket(std::move(packet), false, now);
  stats_.add(&Stats::heartbeatsSent);
  nextEcho_ = now + options_.echoIntervalMs;
}

void UdpSession::sendFin() {
  Bytes d;
  rudp::appendHeader(d, 0, rudp::Flag::Fin);
  d.insert(d.end(), crypto_.keys().sid.begin(), crypto_.keys().sid.end());
  push(std::move(d));
}

// --- sending -----------------------------------------------------------------

size_t UdpSession::reliableCost(size_t packetLen, size_t fragmentSize) {
  if (packetLen <= fragmentSize) return packetLen;
  const size_t chunks = (packetLen + fragmentSize - 1) / fragmentSize;
  return packetLen + chunks * (wire::kRequestHeaderSize + wire::kSidSize + rudp::kFragHeaderSize);
}

void UdpSession::sendPacket(Bytes packet, bool budgeted, double now) {
  if (!fragmenter_.needsCut(packet.size())) {
    // The claim travels alone: the target acknowledges nothing else before it binds.
    channel_->send(std::move(packet), budgeted, now, mig_ == MigPhase::Claiming);
    return;
  }
  const uint8_t ver = packet[4];
  const auto cmd = static_cast<uint16_t>((packet[8] << 8) | packet[9]);
  scratch_.clear();
  fragmenter_.cutWrapped(packet.data(), packet.size(), ver, cmd, crypto_.keys().sid.data(), scratch_);
  std::vector<Bytes> chunks;
  chunks.swap(scratch_);
  for (Bytes& c : chunks) channel_->send(std::move(c), budgeted, now, true);  // a chunk is its own DAT
}

ErrorCode UdpSession::send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable,
                           double now, bool* writable) {
  const bool open = state_ == ClientState::Connecting || state_ == ClientState::Connected ||
                    state_ == ClientState::Migrating;
  if (!open || (!reliable && state_ != ClientState::Connected)) return ErrorCode::NotConnected;
  Bytes packet;
  const ErrorCode ec = crypto_.appendRequest(packet, ver, cmd, body, len, options_.maxPayload);
  if (ec != ErrorCode::None) return ec;
  if (!reliable) {
    if (packet.size() > options_.maxDatagramBody) return ErrorCode::PayloadTooLarge;
    channel_->flushNow(now);  // reliable sends made before it leave first
    Bytes d;
    d.reserve(rudp::kHeaderSize + packet.size());
    rudp::appendHeader(d, 0, rudp::Flag::Udp);
    d.insert(d.end(), packet.begin(), packet.end());
    push(std::move(d));
    if (writable) *writable = budget_.queued() < options_.highWaterMark;
    return ErrorCode::None;
  }
  const size_t cost = reliableCost(packet.size(), options_.fragmentSize);
  const ErrorCode rc = budget_.reserve(cost, writable);
  if (rc != ErrorCode::None) return rc;
  if (holding()) {  // before the handshake, or during a migration
    heldBytes_ += cost;
    held_.push_back(Held{std::move(packet), true});
    return ErrorCode::None;
  }
  sendPacket(std::move(packet), true, now);
  if (room::isRoomMigrateRequest(ver, cmd) && state_ == ClientState::Connected) {
    // The owner's 1/7 (PROTOCOL 10.2): its answer may move us, so what follows is held.
    mig_ = MigPhase::Requested;
    roomMigrate_ = true;
    state_ = ClientState::Migrating;
    migStart_ = now;
    autoRetryAt_ = roomWaitDeadline_ = kNoDeadline;
  }
  afterChannel(now);
  return ErrorCode::None;
}

// --- receiving ---------------------------------------------------------------

void UdpSession::onDatagram(const uint8_t* data, size_t len, double now) {
  stats_.add(&Stats::packetsReceived);
  stats_.add(&Stats::bytesReceived, len);
  if (state_ == ClientState::Idle || state_ == ClientState::Closed) {
    stats_.drop(DropReason::Unexpected);
    return;
  }
  const bool attempting = mig_ == MigPhase::Handshake || mig_ == MigPhase::Claiming;
  if (rudp::isTerminate(data, len)) {
    if (mig_ == MigPhase::Backoff) return;  // a failed attempt's leftovers
    if (attempting) return attemptFailed("the target ended the connection", now);
    finish(finCode_ == ErrorCode::None ? ErrorCode::ClosedByServer : finCode_,
           finReason_.empty() ? "server ended the connection" : finReason_);
    return;
  }
  rudp::Header h;
  DropReason reason = DropReason::Unexpected;
  if (!rudp::decodeHeader(data, len, h, reason)) {
    stats_.drop(reason);
    return;
  }
  const uint8_t* body = data + rudp::kHeaderSize;
  const size_t bodyLen = len - rudp::kHeaderSize;
  if (bodyLen > options_.maxDatagramBody) {
    stats_.drop(DropReason::TooLarge);
    return;
  }
  if (h.flag == rudp::Flag::Syn) {
    if (mig_ == MigPhase::Backoff) {
      stats_.drop(DropReason::Unexpected);  // a failed attempt's handshake
    } else if (!handshaked_) {
      completeHandshake(h.seq, now);
    } else if (h.seq == serverSeq_) {
      sendAckRecord(h.seq);  // our ACK S was lost: answer the repeated SYN again
    } else {
      stats_.drop(DropReason::Unexpected);  // another half-open handshake's S
    }
    return;
  }
  if (!handshaked_) {  // nothing but a SYN answer makes sense before the handshake
    stats_.drop(DropReason::Unexpected);
    return;
  }
  switch (h.flag) {
    case rudp::Flag::Dat:
    case rudp::Flag::Rdat:
      // The next in order, nothing before it: handled where it lies (no copy).
      if (channel_->onDataInPlace(h.seq, h.flag == rudp::Flag::Rdat, body, bodyLen, now)) {
        handleDelivered(body, bodyLen, now);
      }
      break;
    case rudp::Flag::Ack:
    case rudp::Flag::Rack: {
      std::vector<rudp::AckRecord> recs;
      if (!rudp::decodeAckRecords(data, len, rudp::kServerRecordSize, recs, reason)) {
        stats_.drop(reason);
        return;
      }
      for (const rudp::AckRecord& r : recs) {
        if (channel_->onAck(r, now)) lastHeard_ = now;  // the peer got our DAT: alive
      }
      break;
    }
    case rudp::Flag::Udp:
      if (receivePaused_) {
        stats_.drop(DropReason::ReceiveBacklog);  // unreliable: nobody resends it
        return;
      }
      parsePackets(body, bodyLen, now);
      break;
    case rudp::Flag::Fin:
      sendAckRecord(0);
      if (mig_ == MigPhase::Backoff) return;
      if (attempting) {
        return attemptFailed(finReason_.empty() ? "the target closed the connection"
                                                : "the target refused the claim: " + finReason_,
                             now);
      }
      finish(finCode_ == ErrorCode::None ? ErrorCode::ClosedByServer : finCode_,
             finReason_.empty() ? "FIN from the server" : finReason_);
      return;
    case rudp::Flag::Syn:
      break;
  }
  afterChannel(now);
}

// Everything that follows a channel operation: delivered bodies, released
// budget, the retransmission timeout, a pending graceful close.
void UdpSession::afterChannel(double now) {
  if (channel_->hasDelivered()) {  // a gap closed, or a DAT not handled in place
    scratch_.clear();
    channel_->takeDelivered(scratch_);
    std::vector<Bytes> delivered;
    delivered.swap(scratch_);
    const uint64_t gen = linkGen_;
    for (const Bytes& b : delivered) {
      // Closed, or the migrate answer replaced the link: the old node sends nothing after it.
      if (state_ == ClientState::Closed || linkGen_ != gen) break;
      handleDelivered(b.data(), b.size(), now);
    }
  }
  if (budget_.release(channel_->takeReleasedBytes())) {
    Event ev;
    ev.type = EventType::Drain;
    emit(std::move(ev));
  }
  if (state_ == ClientState::Closed) return;
  if (channel_->timedOut()) {
    if (mig_ == MigPhase::Claiming) return attemptFailed("the claim was not acknowledged", now);
    finish(ErrorCode::Timeout, "no acknowledgement after maxRetries resends");
    return;
  }
  maybeFinishClose(now);
}

void UdpSession::handleDelivered(const uint8_t* body, size_t len, double now) {
  if (!rudp::isChunk(body, len)) {
    parsePackets(body, len, now);
    return;
  }
  Bytes whole;
  const rudp::Reassembler::Result res = reassembler_.add(body, len, whole);
  stats_.reassemblyBytes.store(reassembler_.heldBytes(), std::memory_order_relaxed);
  switch (res) {
    case rudp::Reassembler::Result::Complete:
      parsePackets(whole.data(), whole.size(), now);
      break;
    case rudp::Reassembler::Result::Rejected:
      // The in-order stream lost its framing: nothing after this chunk can be trusted.
      stats_.drop(DropReason::BadFragment);
      finish(ErrorCode::ProtocolError,
             std::string("protocol error: bad-fragment: ") + reassembler_.error());
      break;
    case rudp::Reassembler::Result::Incomplete:
      break;
  }
}

void UdpSession::parsePackets(const uint8_t* data, size_t len, double now) {
  size_t off = 0;
  while (off < len && state_ != ClientState::Closed) {
    PacketView p;  // parsed where it lies: the payload is decrypted from there
    const ParseResult r = parseResponse(data + off, len - off, options_.maxPayload, p);
    if (r.status == ParseStatus::NeedMore) {
      stats_.drop(DropReason::Truncated);
      return;
    }
    if (r.status == ParseStatus::Error) {
      stats_.drop(r.reason);
      return;
    }
    off += r.consumed;
    handlePacket(p, now);
  }
}

// True when the sink took the packet (queued, dropped by a closing host, or unusable:
// then counted and reported here); false when it declined it (too large for its arena).
bool UdpSession::postToSink(const PacketView& p, double now) {
  DropReason reason = DropReason::Unexpected;
  switch (sink::post(*sink_, sinkId_, crypto_, p, reason)) {
    case PacketPost::Queued:
      lastHeard_ = now;  // opened with the session keys: the server is alive
      [[fallthrough]];
    case PacketPost::Dropped:  // the host is going away
      if (p.status != wire::kStatusPush) noteMembership(p);
      return true;
    case PacketPost::Failed:
      dropPacket(reason);
      return true;
    case PacketPost::Declined:
      break;
  }
  return false;
}

void UdpSession::noteMembership(const PacketView& p) {
  const int change = room::membershipChange(p);
  if (change != 0) inRoom_ = change > 0;
}

// Not fatal: the datagram was intact, only this packet is unusable.
void UdpSession::dropPacket(DropReason reason) {
  stats_.drop(reason);
  if (reason != DropReason::BadMac) return;
  Event ev;
  ev.type = EventType::Error;
  ev.code = ErrorCode::BadMac;
  ev.message = "packet dropped: bad MAC";
  emit(std::move(ev));
}

void UdpSession::handlePacket(const PacketView& p, double now) {
  // The sink only when nothing emitted before waits here: the host's queue keeps our order.
  if (sink_ != nullptr && events_.empty() && sink::plainPacket(p, mig_ == MigPhase::Requested && roomMigrate_) &&
      postToSink(p, now)) {
    return;
  }
  Bytes body;
  DropReason reason = DropReason::Unexpected;
  if (!crypto_.open(p.payload, p.len, body, reason)) return dropPacket(reason);
  lastHeard_ = now;  // opened with the session keys: the server is alive
  const bool push = p.status == wire::kStatusPush;
  if (!push && p.ver == room::kVer) {
    noteMembership(p);
    if (p.cmd == room::kCmdMigrate && mig_ == MigPhase::Requested && roomMigrate_) return handleRoomAnswer(p, body, now);
  }
  if (p.ver == wire::kVerBuiltin) {
    if (p.cmd == wire::kCmdReconn && push) return handleMigratePush(p, body, now);
    if (p.cmd == wire::kCmdReconn && !push) {
      if (mig_ == MigPhase::Requested && !roomMigrate_) return handleMigrateAnswer(p, body, now);
      if (mig_ == MigPhase::Claiming) return handleClaimAnswer(p, now);
    }
    if (p.cmd == wire::kCmdFin && push && mig_ == MigPhase::Claiming) {
      // The target's refusal (sealed with the session keys), then its FIN.
      finReason_.assign(body.begin(), body.end());
      return attemptFailed("the target refused the claim: " + finReason_, now);
    }
    if (p.cmd == wire::kCmdKeepAlive) {
      handleKeepAlive(body, push, now);
      return;
    }
    if (p.cmd == wire::kCmdFin && push) {
      finReason_.assign(body.begin(), body.end());
      finCode_ = finReasonCode(finReason_);
      return;
    }
    if (p.cmd == wire::kCmdClientKey && !push) return;  // answers our own request
  }
  Event ev;
  ev.type = push ? EventType::Push : EventType::Response;
  ev.ver = p.ver;
  ev.cmd = p.cmd;
  ev.status = p.status;
  ev.payload = std::move(body);
  emit(std::move(ev));
}

void UdpSession::raiseOffline(double now) {
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
    (void)sendMigrate(now);
  }
}

// Echo answer: state:uint8 || ts:f64 LE || address || notifications || addressEnd:uint16.
// The offline notice is a push with the same layout; it raises Offline only.
void UdpSession::handleKeepAlive(const Bytes& b, bool push, double now) {
  if (push) {
    if (b.empty()) {
      stats_.drop(DropReason::BadBody);
      return;
    }
    if (b[0] == wire::kNodeOffline) raiseOffline(now);
    return;
  }
  const size_t n = b.size();
  if (n < 11) {
    stats_.drop(DropReason::BadBody);
    return;
  }
  const size_t tail = n - 2;
  const size_t addressEnd = static_cast<size_t>((b[tail] << 8) | b[tail + 1]);
  const double ts = getF64LE(b.data() + 1);
  if (addressEnd < 9 || !std::isfinite(ts)) {
    stats_.drop(DropReason::BadBody);
    return;
  }
  const size_t addrStop = std::min(addressEnd, tail);
  std::vector<Event> pushes;
  bool bad = false;
  for (size_t off = addressEnd; off < tail;) {  // none when addressEnd >= len - 2
    if (tail - off < 5) {
      bad = true;
      break;
    }
    const size_t nlen = static_cast<size_t>((b[off] << 8) | b[off + 1]);
    if (nlen < 5 || nlen > tail - off) {
      bad = true;
      break;
    }
    Event ev;
    ev.type = EventType::Push;
    ev.ver = b[off + 2];
    ev.cmd = static_cast<uint16_t>((b[off + 3] << 8) | b[off + 4]);
    ev.status = wire::kStatusPush;
    ev.payload.assign(b.begin() + static_cast<std::ptrdiff_t>(off + 5),
                      b.begin() + static_cast<std::ptrdiff_t>(off + nlen));
    pushes.push_back(std::move(ev));
    off += nlen;
  }
  if (bad) stats_.drop(DropReason::BadBody);  // notifications before the bad one still count
  stats_.add(&Stats::heartbeatsAnswered);
  publicAddress_.assign(b.begin() + 9, b.begin() + static_cast<std::ptrdiff_t>(addrStop));
  if (b[0] == wire::kNodeOffline) raiseOffline(now);
  Event echo;
  echo.type = EventType::Echo;
  echo.rttMs = std::max(0.0, now - ts);
  echo.address = publicAddress_;
  emit(std::move(echo));
  for (Event& e : pushes) emit(std::move(e));
}

// --- timers and closing ------------------------------------------------------

double UdpSession::nextDeadline() const {
  const double old = old_ ? std::min(oldDeadline_, old_->nextDeadline()) : kNoDeadline;
  switch (mig_) {
    case MigPhase::Handshake:
      return std::min({old, claimDeadline_, nextSyn_});
    case MigPhase::Claiming:
      return std::min({old, claimDeadline_, channel_->nextDeadline()});
    case MigPhase::Backoff:
      return std::min(old, retryAt_);
    case MigPhase::None:
    case MigPhase::Requested:
      break;
  }
  return std::min({old, autoRetryAt_, roomWaitDeadline_, connectedDeadline()});
}

double UdpSession::connectedDeadline() const {
  switch (state_) {
    case ClientState::Connecting:
      return std::min(connectDeadline_, nextSyn_);
    case ClientState::Connected:
    case ClientState::Migrating:
    case ClientState::Closing: {
      double t = channel_->nextDeadline();
      t = std::min(t, echoMissDeadline());
      if (state_ == ClientState::Closing) return std::min(t, closeDeadline_);
      return std::min(t, nextEcho_);
    }
    case ClientState::Idle:
    case ClientState::Closed:
      break;
  }
  return kNoDeadline;
}

void UdpSession::setReceivePaused(bool paused, double now) {
  if (closed() || paused == receivePaused_) return;
  receivePaused_ = paused;
  channel_->setRefuseNew(paused);
  if (paused) {
    stallDeadline_ = now + options_.maxReceiveStallMs;
    return;
  }
  stallDeadline_ = kNoDeadline;
  // The echo answers were refused with the rest: the echoes in flight get one interval from now.
  lastHeard_ = std::max(lastHeard_, now - options_.echoIntervalMs * (static_cast<double>(options_.echoMissLimit) - 1));
}

double UdpSession::echoMissDeadline() const {
  // A full window means our echo could not even be sent: not a miss. Every DAT in
  // flight has its own retry limit, so a dead peer still ends the session.
  // Paused: the answers are refused by us, so the stall bound decides instead.
  if (receivePaused_) return stallDeadline_;
  if (channel_->windowBlocked()) return kNoDeadline;
  return lastHeard_ + options_.echoMissLimit * options_.echoIntervalMs;
}

bool UdpSession::judgesSilenceAt(double now) const {
  if (old_ || mig_ != MigPhase::None) return false;  // migration has its own deadlines
  switch (state_) {
    case ClientState::Connecting:
      return now >= connectDeadline_;
    case ClientState::Connected:
    case ClientState::Closing:
      return now >= echoMissDeadline();
    default:
      return false;
  }
}

void UdpSession::onTimer(double now) {
  if (old_ && now >= oldDeadline_) closeOldLink();  // no FIN from the old node in time
  if (old_) {
    old_->onTimer(now);
    old_->takeDatagrams(oldOut_);
    if (old_->timedOut()) closeOldLink();
  }
  if (releaseAfterOld_) releaseHeldIfOldDone(now);  // the old link ended (given up)
  switch (mig_) {
    case MigPhase::Handshake:
      if (now >= claimDeadline_) return attemptFailed("no SYN answer from the target", now);
      if (now >= nextSyn_) sendSyn(now);
      return;
    case MigPhase::Claiming:
      if (now >= claimDeadline_) return attemptFailed("no answer to the claim in time", now);
      channel_->onTimer(now);
      afterChannel(now);
      return;
    case MigPhase::Backoff:
      if (now >= retryAt_) startAttempt(now);
      return;
    case MigPhase::None:
    case MigPhase::Requested:
      break;
  }
  if (now >= autoRetryAt_) {
    autoRetryAt_ = kNoDeadline;
    (void)sendMigrate(now);
  }
  if (now >= roomWaitDeadline_) {
    // The room did not move us in time: migrate alone and leave the room (PROTOCOL 10.1).
    roomWaitDeadline_ = kNoDeadline;
    inRoom_ = false;
    emit(room::waitTimedOut());
    (void)sendMigrate(now);
  }
  if (state_ == ClientState::Connecting) {
    if (now >= connectDeadline_) {
      finish(ErrorCode::ConnectTimeout, "no SYN answer");
    } else if (now >= nextSyn_) {
      sendSyn(now);
    }
    return;
  }
  if (state_ != ClientState::Connected && state_ != ClientState::Closing && state_ != ClientState::Migrating) return;
  channel_->onTimer(now);
  if (now >= stallDeadline_) {
    finish(ErrorCode::ReceiveStalled, "the application read no events for " +
                                          std::to_string(static_cast<long long>(options_.maxReceiveStallMs)) +
                                          " ms past the receive high-water mark");
    return;
  }
  if (now >= echoMissDeadline()) {
    finish(ErrorCode::Timeout, "no echo answer");
    return;
  }
  if (state_ != ClientState::Closing && now >= nextEcho_) sendEcho(now);
  afterChannel(now);
}

void UdpSession::maybeFinishClose(double now) {
  if (state_ != ClientState::Closing) return;
  if ((channel_->idle() && held_.empty()) || now >= closeDeadline_) {
    sendFin();
    finish(ErrorCode::ClosedByUser, "closed by the user");
  }
}

void UdpSession::close(bool graceful, double now) {
  switch (state_) {
    case ClientState::Idle:
    case ClientState::Connecting:
      finish(ErrorCode::ClosedByUser, "closed by the user");
      return;
    case ClientState::Migrating:
      // Mid-migration there is no node to flush the held requests to: they are handed back.
      sendFin();
      finish(ErrorCode::ClosedByUser, "closed during a migration");
      return;
    case ClientState::Connected:
      if (graceful) {
        state_ = ClientState::Closing;
        closeDeadline_ = now + options_.closeTimeoutMs;
        maybeFinishClose(now);
      } else {
        sendFin();
        finish(ErrorCode::ClosedByUser, "closed by the user");
      }
      return;
    case ClientState::Closing:
      if (!graceful) {
        sendFin();
        finish(ErrorCode::ClosedByUser, "closed by the user");
      }
      return;
    case ClientState::Closed:
      return;
  }
}

void UdpSession::onSocketError(ErrorCode code, const std::string& message, double now) {
  // During an attempt the error is the target's socket: retry within handoffTtlMs, like TCP.
  if (mig_ == MigPhase::Handshake || mig_ == MigPhase::Claiming) return attemptFailed(message, now);
  if (mig_ == MigPhase::Backoff && state_ != ClientState::Closed) return;  // no socket in use until the retry
  finish(code, message);
}

void UdpSession::finish(ErrorCode code, const std::string& message) {
  if (state_ == ClientState::Closed) return;
  state_ = ClientState::Closed;
  collect();  // keep what the channel queued (ACKs) before the session stops
  channel_->forgetOutgoing();
  decodeHeld();  // what was held is handed back (takeUnsent), never silently dropped
  (void)budget_.release(channel_->takeReleasedBytes() + heldBytes_);  // no Drain after a close
  held_.clear();
  heldBytes_ = 0;
  mig_ = MigPhase::None;
  if (old_) closeOldLink();
  connectDeadline_ = nextSyn_ = nextEcho_ = closeDeadline_ = stallDeadline_ = kNoDeadline;
  receivePaused_ = false;
  handoffDeadline_ = claimDeadline_ = retryAt_ = autoRetryAt_ = roomWaitDeadline_ = kNoDeadline;
  roomMigrate_ = pushStarted_ = releaseAfterOld_ = false;
  Event ev;
  ev.type = EventType::Disconnect;
  ev.code = code;
  ev.message = message;
  emit(std::move(ev));
}

}  // namespace diarkis
