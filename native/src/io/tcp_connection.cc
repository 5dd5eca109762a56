#include "io/tcp_connection.h"

#include "io/tcp_drain.h"

#ifndef _WIN32
#include <arpa/inet.h>
#include <netinet/tcp.h>
#endif

#include <cstring>

namespace diarkis {
namespace {

ErrorCode socketErrorCode(int err) {
  return isConnectionRefused(err) ? ErrorCode::Refused : ErrorCode::NetworkError;
}

std::string socketText(const char* what, int err) { return std::string(what) + ": " + socketErrorText(err); }

}  // namespace

bool parseNumericAddress(const std::string& host, uint16_t port, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return true;
  }
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

std::string formatAddress(const sockaddr_storage& addr) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    return std::string("[") + buf + "]:" + std::to_string(ntohs(v6->sin6_port));
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
  ::inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
  return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
}

TcpConnection::TcpConnection(Loop& loop, uint64_t id, std::shared_ptr<DiarkisTcpBase::Shared> shared,
                             const TcpOptions& options, const SessionKeys& keys)
    : loop_(loop), id_(id), shared_(std::move(shared)),
      session_(options, keys, shared_->stats, shared_->budget) {
  shared_->conn = this;
  session_.setPacketSink(shared_->packetSink.get(), id_);
}

TcpConnection::~TcpConnection() {
  if (shared_->conn == this) shared_->conn = nullptr;
}

void TcpConnection::start(const sockaddr_storage& addr, socklen_t len, double now) {
  session_.start(now);
  session_.setPeerName(formatAddress(addr));
  openSocket(addr, len, now);
  settle(now);
}

// Failures go to the session (which retries during a migration); the caller settles.
void TcpConnection::openSocket(const sockaddr_storage& addr, socklen_t len, double now) {
  fd_ = UniqueSocket(diarkis::openSocket(addr.ss_family, SOCK_STREAM));
  if (!fd_) {
    session_.onSocketError(ErrorCode::NetworkError, socketText("socket", lastSocketError()), now);
    return;
  }
  // Small request/response packets: no Nagle delay.
  (void)setIntOption(fd_.get(), IPPROTO_TCP, TCP_NODELAY, 1);
  int rc = ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), len);
  if (rc != 0 && !isConnectInProgress(lastSocketError())) {
    const int err = lastSocketError();
    session_.onSocketError(socketErrorCode(err), socketText("connect", err), now);
    return;
  }
  wantWrite_ = true;  // writability = connect finished
  registered_ = loop_.poller().add(fd_.get(), id_, true);
  if (!registered_) {
    session_.onSocketError(ErrorCode::NetworkError, socketText("poller add", lastSocketError()), now);
  } else if (rc == 0) {
    finishConnect(now);
  }
}

void TcpConnection::migrate(double now) {
  session_.sendMigrate(now);  // NotConnected is reported by DiarkisTcpBase::SendMigrate's own check
  settle(now);
}

void TcpConnection::applySocketActions(double now) {
  // Each round either consumes an action or a connect; a synchronous connect
  // failure leaves a Close action for the next round, then the session waits.
  for (int round = 0; round < 8 && !session_.closed(); ++round) {
    const TcpSession::SocketAction a = session_.takeSocketAction();
    if (a == TcpSession::SocketAction::Linger && fd_) {
      if (registered_) loop_.poller().remove(fd_.get());
      registered_ = false;
      TcpDrain::start(loop_, std::move(fd_), now + shared_->lingerMs);
      releaseSocket();
    } else if (a == TcpSession::SocketAction::Close) {
      releaseSocket();
    }
    std::string host;
    uint16_t port = 0;
    if (session_.takeConnect(host, port)) {
      releaseSocket();
      sockaddr_storage addr{};
      socklen_t len = 0;
      if (parseNumericAddress(host, port, addr, len)) {
        openSocket(addr, len, now);
      } else {
        session_.onSocketError(ErrorCode::InvalidArgument, "the migration target " + host + " is not numeric", now);
      }
    } else if (!session_.socketActionPending()) {
      return;
    }
  }
}

// Closes the current socket (if any) and readies for a new one. A new socket
// starts reading (the next read checks the backlog again).
void TcpConnection::releaseSocket() {
  if (fd_ && registered_) loop_.poller().remove(fd_.get());
  fd_.reset();
  registered_ = connected_ = wantWrite_ = blocked_ = readPaused_ = false;
  session_.setReceivePaused(false, Runtime::nowMs());
}

void TcpConnection::send(Bytes&& packet, double now) {
  session_.enqueueEncoded(std::move(packet));
  settle(now);
}

void TcpConnection::close(bool graceful, double now) {
  session_.close(graceful, now);
  settle(now);
}

void TcpConnection::onReady(const PollEvent& ev, double now) {
  if (!fd_) {
    // an event queued for a socket released earlier in this iteration
  } else if (!connected_) {
    if (ev.writable || ev.failed) finishConnect(now);
  } else {
    if ((ev.readable || ev.failed) && !readPaused_) readAll(now);
    if (ev.writable && !session_.closed()) writeNow(now);
  }
  settle(now);
}

void TcpConnection::finishConnect(double now) {
  const int err = pendingSocketError(fd_.get());
  if (err != 0) {
    session_.onSocketError(socketErrorCode(err), socketText("connect", err), now);
    return;
  }
  connected_ = true;
  session_.onSocketConnected(now);
  writeNow(now);  // the opening request goes out at once
}

void TcpConnection::readAll(double now) {
  // Bounded per wakeup so one busy socket cannot starve the others (epoll is
  // level-triggered: what is left wakes us again).
  for (int i = 0; i < 16 && !session_.closed(); ++i) {
    const long n = recvBytes(fd_.get(), loop_.readBuffer(), loop_.readBufferSize());
    if (n > 0) {
      session_.onData(loop_.readBuffer(), static_cast<size_t>(n), now);
      if (session_.socketActionPending() || session_.closed()) return;  // migrate answer: this socket is done for us
      if (deliverAndCheck()) return pauseReceive(now);
      if (static_cast<size_t>(n) < loop_.readBufferSize()) break;
      continue;
    }
    if (n == 0) {
      session_.onEof(now);
      return;
    }
    const int err = lastSocketError();
    if (isTransientSocketError(err)) return;  // EINTR too: level-triggered, the next turn reads
    session_.onSocketError(socketErrorCode(err), socketText("recv", err), now);
    return;
  }
}

bool TcpConnection::deliverAndCheck() {
  shared_->state.store(session_.state(), std::memory_order_release);  // before the callbacks, as settle()
  if (session_.takeEvents(events_)) {
    shared_->deliver(events_);
    events_.clear();
  }
  return shared_->shouldPauseReceive();
}

// The kernel's receive window pushes back on the server meanwhile; nothing is lost.
// Out of the poller (level-triggered readiness would spin): a send that meets a
// full socket buffer while paused is retried on the session's timer.
void TcpConnection::pauseReceive(double now) {
  readPaused_ = true;
  shared_->stats.add(&Stats::receivePauses);
  session_.setReceivePaused(true, now);
  if (registered_) loop_.poller().remove(fd_.get());
  registered_ = wantWrite_ = false;
}

void TcpConnection::resumeReceive(double now) {
  if (gone_ || !readPaused_) return;
  readPaused_ = false;
  session_.setReceivePaused(false, now);
  if (fd_) {
    wantWrite_ = blocked_ || !connected_;
    registered_ = loop_.poller().add(fd_.get(), id_, wantWrite_);
    if (!registered_) session_.onSocketError(ErrorCode::NetworkError, socketText("poller add", lastSocketError()), now);
  }
  settle(now);
}

void TcpConnection::writeNow(double now) {
  // The session's output is one contiguous buffer: every packet queued since the
  // last write leaves in a single send().
  blocked_ = false;
  while (connected_ && !session_.closed() && session_.outputSize() > 0) {
    const long n = sendBytes(fd_.get(), session_.output(), session_.outputSize());
    if (n > 0) {
      session_.consumeOutput(static_cast<size_t>(n), now);
      continue;
    }
    if (n < 0 && isTransientSocketError(lastSocketError())) {
      blocked_ = true;  // resume when writable (EINTR too: the poller reports it writable)
      return;
    }
    if (n == 0) {
      session_.onSocketError(ErrorCode::NetworkError, "send: wrote nothing", now);
      return;
    }
    const int err = lastSocketError();
    session_.onSocketError(socketErrorCode(err), socketText("send", err), now);
    return;
  }
}

void TcpConnection::onTimer(double now) {
  session_.onTimer(now);
  if (readPaused_ && blocked_ && !session_.closed()) writeNow(now);  // no writability reports while paused
  settle(now);
}

void TcpConnection::flush(double now) {
  writeNow(now);
  settle(now);
}

void TcpConnection::setWantWrite(bool want) {
  if (!registered_ || want == wantWrite_) return;
  wantWrite_ = want;
  loop_.poller().modify(fd_.get(), id_, want);
}

void TcpConnection::settle(double now) {
  if (gone_) return;
  applySocketActions(now);
  shared_->state.store(session_.state(), std::memory_order_release);
  if (session_.closed()) shared_->keepUnsent(session_.takeUnsent());
  if (session_.takeEvents(events_)) {
    shared_->deliver(events_);
    events_.clear();
  }
  if (session_.closed()) {
    teardown();
    return;
  }
  loop_.schedule(id_, session_.nextDeadline());
  if (connected_) {
    // A socket that said EAGAIN is written when it becomes writable; otherwise
    // output queued by this input leaves at the end of the iteration, coalesced.
    setWantWrite(blocked_);
    if (!blocked_ && session_.outputSize() > 0) loop_.markDirty(id_);
  }
}

void TcpConnection::closeSocket() {
  gone_ = true;
  // close() with unread bytes in the receive buffer sends a reset, which can
  // destroy the data we just flushed before the peer reads it: read them first.
  for (int i = 0; fd_ && connected_ && i < 16; ++i) {
    if (recvBytes(fd_.get(), loop_.readBuffer(), loop_.readBufferSize()) <= 0) break;  // non-blocking
  }
  if (registered_) loop_.poller().remove(fd_.get());
  registered_ = false;
  fd_.reset();
  if (shared_->conn == this) shared_->conn = nullptr;
}

void TcpConnection::teardown() {
  closeSocket();
  loop_.detach(id_);  // destroyed at the end of the iteration
}

// The Loop forgets us itself (detach or shutdown); we only close, silently.
void TcpConnection::abandon() {
  if (gone_) return;
  shared_->state.store(ClientState::Closed, std::memory_order_release);
  closeSocket();
}

// After an exception: the session may be half-updated, so no last write (no FIN).
void TcpConnection::fail(const char* what) noexcept {
  if (gone_) return;
  closeSocket();
  client::failInternal(*shared_, session_, what);
}

}  // namespace diarkis
