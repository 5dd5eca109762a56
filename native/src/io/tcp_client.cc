// DiarkisTcpBase: the caller-thread side. Commands go to the network thread
// through the runtime's queue; the network side (TcpConnection) reports back
// through Shared::deliver.
#include "diarkis/tcp_client.h"

#include <stdexcept>

#include "io/runtime_impl.h"
#include "io/tcp_connection.h"
#include "io/tcp_shared.h"

namespace diarkis {

const char* clientStateName(ClientState s) {
  switch (s) {
    case ClientState::Idle: return "idle";
    case ClientState::Connecting: return "connecting";
    case ClientState::Connected: return "connected";
    case ClientState::Migrating: return "migrating";
    case ClientState::Closing: return "closing";
    case ClientState::Closed: return "closed";
  }
  return "unknown";
}

DiarkisTcpBase::DiarkisTcpBase(std::shared_ptr<Runtime> runtime, TcpOptions options)
    : runtime_(std::move(runtime)), options_(options), id_(allocateClientId()),
      shared_(std::make_shared<Shared>(options_)) {
  if (!runtime_) throw std::invalid_argument("diarkis: DiarkisTcpBase needs a runtime");
  impl_ = &runtimeImpl(*runtime_);  // throws for a foreign Runtime implementation
  shared_->owner.store(this, std::memory_order_release);
  client::armResume(runtime_, shared_, id_);
}

DiarkisTcpBase::~DiarkisTcpBase() { Detach(); }

std::shared_ptr<ReceiveBacklog> DiarkisTcpBase::ReceiveBacklogOf() const { return shared_->backlog; }

void DiarkisTcpBase::SetPacketSink(std::shared_ptr<PacketSink> sink) {
  if (!shared_->callbacks) shared_->packetSink = std::move(sink);
}

ErrorCode DiarkisTcpBase::Connect(const std::string& host, uint16_t port, const SessionKeys& keys) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!parseNumericAddress(host, port, addr, len) || port == 0) return ErrorCode::InvalidArgument;
  RuntimeImpl& rt = *impl_;
  if (shared_->detached.load() || rt.loop().stopping()) return ErrorCode::NotConnected;
  {
    std::lock_guard<std::mutex> lk(shared_->sendMu);
    ClientState expected = ClientState::Idle;
    if (!shared_->state.compare_exchange_strong(expected, ClientState::Connecting)) {
      return ErrorCode::NotConnected;  // a client connects once
    }
    shared_->sendCrypto = std::make_unique<SessionCrypto>(keys);
  }
  const uint64_t id = static_cast<uint64_t>(id_);
  auto shared = shared_;
  const TcpOptions options = options_;
  const bool posted = rt.postLoop(id, [id, shared, options, keys, addr, len](Loop& loop) {
    auto conn = std::make_shared<TcpConnection>(loop, id, shared, options, keys);
    loop.attach(id, conn);
    conn->start(addr, len, Runtime::nowMs());
  });
  if (!posted) {
    shared_->state.store(ClientState::Closed);
    return ErrorCode::NotConnected;
  }
  return ErrorCode::None;
}

ErrorCode DiarkisTcpBase::Send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable) {
  if (len > 0 && body == nullptr) return ErrorCode::InvalidArgument;
  const ClientState st = shared_->state.load(std::memory_order_acquire);
  if (st != ClientState::Connecting && st != ClientState::Connected && st != ClientState::Migrating) {
    return ErrorCode::NotConnected;
  }
  // Encrypt here, on the caller's thread: the CPU cost spreads over the callers
  // instead of serialising every client's packets on the one network thread.
  std::unique_lock<std::mutex> lk(shared_->sendMu);
  if (!shared_->sendCrypto) return ErrorCode::NotConnected;
  Bytes packet;
  const ErrorCode enc = shared_->sendCrypto->appendRequest(packet, ver, cmd, body, len, options_.maxPayload);
  if (enc != ErrorCode::None) return enc;
  const size_t size = packet.size();
  const ErrorCode res = shared_->budget.reserve(size, writable);
  if (res != ErrorCode::None) return res;
  RuntimeImpl& rt = *impl_;
  if (rt.runsNow()) {
    // The host-loop driver: straight into the session on this thread, no command.
    // Unlocked first: a callback run by it may Send again (one thread: order holds).
    lk.unlock();
    if (shared_->conn) {
      rt.commandBegin();
      rt.loop().guard(id_, [&] { shared_->conn->send(std::move(packet), Runtime::nowMs()); });
      rt.commandDone();
    } else {
      shared_->budget.release(size);  // closed meanwhile: dropped like unsent socket data
    }
    return ErrorCode::None;
  }
  auto shared = shared_;
  const bool posted = impl_->postLoop(id_, [shared, p = std::move(packet)](Loop&) mutable {
    if (shared->conn) {
      shared->conn->send(std::move(p), Runtime::nowMs());
    } else {
      shared->budget.release(p.size());  // closed meanwhile: dropped like unsent socket data
    }
  });
  if (!posted) {
    shared_->budget.release(size);
    return ErrorCode::NotConnected;
  }
  return ErrorCode::None;
}

ErrorCode DiarkisTcpBase::SendInPlace(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool* writable) {
  RuntimeImpl& rt = *impl_;
  TcpConnection* conn = shared_->conn;
  if (!rt.runsNow() || conn == nullptr) return Send(ver, cmd, body, len, writable);
  if (len > 0 && body == nullptr) return ErrorCode::InvalidArgument;
  const ClientState st = shared_->state.load(std::memory_order_acquire);
  if (st != ClientState::Connecting && st != ClientState::Connected && st != ClientState::Migrating) {
    return ErrorCode::NotConnected;
  }
  ErrorCode rc = ErrorCode::None;
  rt.loop().guard(id_, [&] { rc = conn->sendInPlace(ver, cmd, body, len, writable); });
  return rc;
}

void DiarkisTcpBase::SettleSends() {
  RuntimeImpl& rt = *impl_;
  if (!rt.runsNow() || shared_->conn == nullptr) return;
  rt.commandBegin();
  rt.loop().guard(id_, [&] {
    if (shared_->conn) shared_->conn->settleSends(Runtime::nowMs());
  });
  rt.commandDone();
}

uint64_t DiarkisTcpBase::QueuedBytes() const { return shared_->budget.queued(); }

ErrorCode DiarkisTcpBase::SendMigrate() { return client::migrate(*impl_, shared_, id_); }

std::vector<UnsentPacket> DiarkisTcpBase::TakeUnsent() { return shared_->takeUnsent(); }

void DiarkisTcpBase::Disconnect(bool graceful) {
  client::disconnect(*impl_, shared_, id_, graceful);
}

void DiarkisTcpBase::Detach() {
  if (shared_) client::detach(*impl_, *shared_, static_cast<uint64_t>(id_));
}

ClientState DiarkisTcpBase::State() const { return shared_->state.load(std::memory_order_acquire); }

StatsSnapshot DiarkisTcpBase::GetStats() const {
  StatsSnapshot s = shared_->stats.snapshot();
  s.undeliveredBytes = shared_->backlog->bytes();
  return s;
}

void DiarkisTcpBase::dispatch(Event& ev) {
  // Nothing may touch *this after the virtual call: a callback may delete us.
  if (TakeEvent(ev)) return;
  switch (ev.type) {
    case EventType::Connect: OnConnect(ev.reconnected); break;
    case EventType::Disconnect: OnDisconnect(ev.code, ev.message); break;
    case EventType::Offline: OnOffline(); break;
    case EventType::Response: OnResponse(ev.ver, ev.cmd, ev.status, ev.payload.data(), ev.payload.size()); break;
    case EventType::Push: OnPush(ev.ver, ev.cmd, ev.payload.data(), ev.payload.size()); break;
    case EventType::Heartbeat: OnHeartbeat(ev.rttMs); break;
    case EventType::Migrated: OnMigrated(MigrationInfo{ev.from, ev.address, ev.rttMs}); break;
    case EventType::Drain: OnDrain(); break;
    case EventType::Error: OnError(ev.code, ev.message); break;
    case EventType::Echo: break;  // UDP only
    case EventType::Unsent: break;  // made by hosts from TakeUnsent(), never by a session
    case EventType::Room: break;    // made by hosts' room adapters, never by a session
  }
}

}  // namespace diarkis
