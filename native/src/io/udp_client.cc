// DiarkisUdpBase: the caller-thread side. Commands go to the network thread
// through the runtime's queue; the network side (UdpConnection) reports back
// through Shared::deliver. Unlike TCP, the session encrypts on the network
// thread (it owns the one SessionCrypto); the caller's thread checks sizes and
// reserves the queue budget so that every Send/RSend error is returned at once.
#include "diarkis/udp_client.h"

#include <stdexcept>

#include "io/runtime_impl.h"
#include "io/tcp_connection.h"  // parseNumericAddress
#include "io/udp_connection.h"
#include "io/udp_shared.h"
#include "rudp/datagram.h"
#include "rudp/fragment.h"

namespace diarkis {

DiarkisUdpBase::DiarkisUdpBase(std::shared_ptr<Runtime> runtime, UdpOptions options)
    : DiarkisUdpBase(std::move(runtime), std::make_shared<const UdpOptions>(std::move(options))) {}

DiarkisUdpBase::DiarkisUdpBase(std::shared_ptr<Runtime> runtime, std::shared_ptr<const UdpOptions> options)
    : runtime_(std::move(runtime)), options_(std::move(options)), id_(allocateClientId()),
      shared_(options_ ? std::make_shared<Shared>(*options_) : nullptr) {
  if (!runtime_) throw std::invalid_argument("diarkis: DiarkisUdpBase needs a runtime");
  if (!options_) throw std::invalid_argument("diarkis: DiarkisUdpBase needs options");
  impl_ = &runtimeImpl(*runtime_);  // throws for a foreign Runtime implementation
  shared_->owner.store(this, std::memory_order_release);
  client::armResume(runtime_, shared_, id_);
}

DiarkisUdpBase::~DiarkisUdpBase() { Detach(); }

std::shared_ptr<ReceiveBacklog> DiarkisUdpBase::ReceiveBacklogOf() const { return shared_->backlog; }

void DiarkisUdpBase::SetPacketSink(std::shared_ptr<PacketSink> sink) {
  if (!shared_->callbacks) shared_->packetSink = std::move(sink);
}

ErrorCode DiarkisUdpBase::Connect(const std::string& host, uint16_t port, const SessionKeys& keys) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!parseNumericAddress(host, port, addr, len) || port == 0) return ErrorCode::InvalidArgument;
  RuntimeImpl& rt = *impl_;
  if (shared_->detached.load() || rt.loop().stopping()) return ErrorCode::NotConnected;
  ClientState expected = ClientState::Idle;
  if (!shared_->state.compare_exchange_strong(expected, ClientState::Connecting)) {
    return ErrorCode::NotConnected;  // a client connects once
  }
  shared_->encrypted.store(keys.encrypted, std::memory_order_release);
  const uint64_t id = static_cast<uint64_t>(id_);
  auto shared = shared_;
  const std::shared_ptr<const UdpOptions>& options = options_;
  const bool posted = rt.postLoop(id, [id, shared, options, keys, addr, len](Loop& loop) {
    auto conn = std::make_shared<UdpConnection>(loop, id, shared, options, keys);
    loop.attach(id, conn);
    conn->start(addr, len, Runtime::nowMs());
  });
  if (!posted) {
    shared_->state.store(ClientState::Closed);
    return ErrorCode::NotConnected;
  }
  return ErrorCode::None;
}

ErrorCode DiarkisUdpBase::Send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable) {
  return post(ver, cmd, body, len, false, writable);
}

ErrorCode DiarkisUdpBase::RSend(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable) {
  return post(ver, cmd, body, len, true, writable);
}

ErrorCode DiarkisUdpBase::post(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable,
                               bool* writable) {
  if (len > 0 && body == nullptr) return ErrorCode::InvalidArgument;
  const ClientState st = shared_->state.load(std::memory_order_acquire);
  const bool open = st == ClientState::Connected ||
                    (reliable && (st == ClientState::Connecting || st == ClientState::Migrating));
  if (!open) return ErrorCode::NotConnected;
  // The session's own checks, made here so the caller hears of them at once
  // (the session runs them again on the network thread).
  if (len > wire::kMaxLength24) return ErrorCode::PayloadTooLarge;
  const size_t payload = wire::kSidSize + sealedSize(len, shared_->encrypted.load(std::memory_order_acquire));
  if (payload > options_->maxPayload || payload > wire::kMaxLength24) return ErrorCode::PayloadTooLarge;
  const size_t packet = wire::kRequestHeaderSize + payload;
  // Unreliable sends are charged too, until the network thread takes them, so a
  // tight send() loop cannot grow the command queue without bound.
  size_t reserved = packet;
  if (!reliable) {
    if (packet > options_->maxDatagramBody) return ErrorCode::PayloadTooLarge;
  } else if (packet > options_->fragmentSize && options_->fragmentSize > 0) {
    // What UdpSession::reliableCost charges: the packet, plus a wrapper per fragment.
    const size_t chunks = (packet + options_->fragmentSize - 1) / options_->fragmentSize;
    reserved += chunks * (wire::kRequestHeaderSize + wire::kSidSize + rudp::kFragHeaderSize);
  }
  const ErrorCode rc = shared_->budget.reserve(reserved, writable);
  if (rc != ErrorCode::None) return rc;
  RuntimeImpl& rt = *impl_;
  if (rt.runsNow()) {
    // The host-loop driver: straight into the session on this thread, no command.
    if (shared_->conn) {
      rt.commandBegin();
      rt.loop().guard(id_, [&] { shared_->conn->send(ver, cmd, body, len, reliable, reserved, Runtime::nowMs()); });
      rt.commandDone();
    } else {
      (void)shared_->budget.release(reserved);
    }
    return ErrorCode::None;
  }
  auto shared = shared_;
  const bool posted = rt.postLoop(id_,
      [shared, ver, cmd, reliable, reserved, b = Bytes(body, body + len)](Loop&) {
        if (shared->conn) {
          shared->conn->send(ver, cmd, b.data(), b.size(), reliable, reserved, Runtime::nowMs());
        } else {
          (void)shared->budget.release(reserved);  // closed meanwhile: dropped
        }
      });
  if (!posted) {
    (void)shared_->budget.release(reserved);
    return ErrorCode::NotConnected;
  }
  return ErrorCode::None;
}

ErrorCode DiarkisUdpBase::SendMigrate() { return client::migrate(*impl_, shared_, id_); }

std::vector<UnsentPacket> DiarkisUdpBase::TakeUnsent() { return shared_->takeUnsent(); }

void DiarkisUdpBase::Disconnect(bool graceful) {
  client::disconnect(*impl_, shared_, id_, graceful);
}

void DiarkisUdpBase::Detach() {
  if (shared_) client::detach(*impl_, *shared_, static_cast<uint64_t>(id_));
}

ClientState DiarkisUdpBase::State() const { return shared_->state.load(std::memory_order_acquire); }

StatsSnapshot DiarkisUdpBase::GetStats() const {
  StatsSnapshot s = shared_->stats.snapshot();
  s.undeliveredBytes = shared_->backlog->bytes();
  return s;
}

void DiarkisUdpBase::dispatch(Event& ev) {
  // Nothing may touch *this after the virtual call: a callback may delete us.
  if (TakeEvent(ev)) return;
  switch (ev.type) {
    case EventType::Connect: OnConnect(ev.reconnected); break;
    case EventType::Disconnect: OnDisconnect(ev.code, ev.message); break;
    case EventType::Offline: OnOffline(); break;
    case EventType::Response: OnResponse(ev.ver, ev.cmd, ev.status, ev.payload.data(), ev.payload.size()); break;
    case EventType::Push: OnPush(ev.ver, ev.cmd, ev.payload.data(), ev.payload.size()); break;
    case EventType::Echo: OnEcho(ev.rttMs, ev.address); break;
    case EventType::Migrated: OnMigrated(MigrationInfo{ev.from, ev.address, ev.rttMs}); break;
    case EventType::Drain: OnDrain(); break;
    case EventType::Error: OnError(ev.code, ev.message); break;
    case EventType::Heartbeat: break;  // TCP only
    case EventType::Unsent: break;  // made by hosts from TakeUnsent(), never by a session
    case EventType::Room: break;    // made by hosts' room adapters, never by a session
  }
}

}  // namespace diarkis
