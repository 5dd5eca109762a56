#include "io/udp_connection.h"

#include "io/tcp_connection.h"  // parseNumericAddress, formatAddress

#ifdef __linux__
#include <sys/socket.h>  // sendmmsg
#endif

#include <algorithm>
#include <cstring>

namespace diarkis {
namespace {

std::string socketText(const char* what, int err) { return std::string(what) + ": " + socketErrorText(err); }

// ICMP port/host unreachable surfaces on a connected UDP socket as an error of
// the next call (isDatagramLossError). It is advisory (the node may be restarting,
// or a stale ICMP from an earlier datagram): the SYN repeat / retransmission
// timeouts decide, not the ICMP.
bool transientError(int err) { return isDatagramLossError(err); }

constexpr int kReceiveBuffer = 4 << 20;  // bursts of pushes outrun a default 208 KiB buffer
#ifdef __linux__
constexpr unsigned kBatch = 32;          // datagrams per sendmmsg / recvmmsg
#endif

// Sends up to `count` datagrams of `pending` in one go: the number the socket took,
// or -1 with lastSocketError() when it took none. Linux: one sendmmsg() call;
// elsewhere a loop of send() (Winsock and macOS have no sendmmsg).
template <typename Queue>
int sendBatch(SocketHandle s, Queue& pending) {
#ifdef __linux__
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  const unsigned n = pending.size() < kBatch ? static_cast<unsigned>(pending.size()) : kBatch;
  for (unsigned i = 0; i < n; ++i) {
    iov[i].iov_base = pending[i].data();
    iov[i].iov_len = pending[i].size();
    std::memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  return ::sendmmsg(s, msgs, n, kSendFlags);
#else
  int sent = 0;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (sendBytes(s, pending[i].data(), pending[i].size()) < 0) return sent > 0 ? sent : -1;
    ++sent;
  }
  return sent;
#endif
}

}  // namespace

UdpConnection::UdpConnection(Loop& loop, uint64_t id, std::shared_ptr<DiarkisUdpBase::Shared> shared,
                             std::shared_ptr<const UdpOptions> options, const SessionKeys& keys)
    : loop_(loop), id_(id), shared_(std::move(shared)),
      session_(std::move(options), keys, shared_->stats, shared_->budget) {
  shared_->conn = this;
  session_.setPacketSink(shared_->packetSink.get(), id_);
}

UdpConnection::~UdpConnection() {
  if (shared_->conn == this) shared_->conn = nullptr;
}

void UdpConnection::start(const sockaddr_storage& addr, socklen_t len, double now) {
  session_.setPeerName(formatAddress(addr));
  session_.start(now);
  (void)openSocket(addr, len, now);
  settle(now);
}

// A new connected socket in fd_ (registered under id_). Failures go to the session.
bool UdpConnection::openSocket(const sockaddr_storage& addr, socklen_t len, double now) {
  fd_ = UniqueSocket(diarkis::openSocket(addr.ss_family, SOCK_DGRAM));
  registered_ = wantWrite_ = blocked_ = false;
  if (!fd_) {
    session_.onSocketError(ErrorCode::NetworkError, socketText("socket", lastSocketError()), now);
    return false;
  }
  // Best effort: the kernel caps it at net.core.rmem_max, and a smaller buffer still works.
  (void)setIntOption(fd_.get(), SOL_SOCKET, SO_RCVBUF, kReceiveBuffer);
  // connect() on UDP only fixes the peer: the kernel then drops datagrams from
  // any other source, which is the session's "foreign address" filter.
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    session_.onSocketError(ErrorCode::NetworkError, socketText("connect", lastSocketError()), now);
    return false;
  }
  registered_ = loop_.poller().add(fd_.get(), id_, false);
  if (!registered_) {
    session_.onSocketError(ErrorCode::NetworkError, socketText("poller add", lastSocketError()), now);
  }
  return registered_;
}

void UdpConnection::migrate(double now) {
  (void)session_.sendMigrate(now);  // NotConnected is answered by DiarkisUdpBase::SendMigrate's own check
  settle(now);
}

// Datagrams for a socket that may be gone or full: the reliable ones are resent.
template <typename Datagrams>
static void sendBestEffort(const UniqueSocket& fd, const Datagrams& datagrams) {
  if (!fd) return;
  for (size_t i = 0; i < datagrams.size(); ++i) {
    (void)sendBytes(fd.get(), datagrams[i].data(), datagrams[i].size());  // non-blocking
  }
}

// The session's socket instructions, in order. OpenTarget: what is still
// pending for the current socket goes out on it, the socket becomes the old
// link, and a new one connects to the target. Each action's own datagrams go to
// the socket it is about; takeOldLinkDatagrams() only after the last action.
void UdpConnection::applyLinkActions(double now) {
  if (session_.linkIdle()) return;  // the common case, after every send and read: no string, no walk
  std::string host;
  uint16_t port = 0;
  for (;;) {
    last_.clear();
    const UdpSession::LinkAction a = session_.takeLinkAction(host, port, last_);
    if (a == UdpSession::LinkAction::None) {
      writeOld();
      return;
    }
    if (a == UdpSession::LinkAction::CloseOldLink) {
      sendBestEffort(oldFd_, last_);
      closeOld();
      continue;
    }
    // Datagrams already taken for the old node, then what the session still owes it
    // (the ACK of its answer, a partly packed DAT): best effort, the old link resends.
    if (!blocked_) sendBestEffort(fd_, pending_);
    pending_.clear();
    sendBestEffort(fd_, last_);
    closeOld();
    if (fd_ && wantWrite_) loop_.poller().modify(fd_.get(), id_, false);
    oldFd_ = std::move(fd_);
    registered_ = false;
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (!parseNumericAddress(host, port, addr, len)) {
      session_.onSocketError(ErrorCode::InvalidArgument, "the migration target " + host + " is not numeric", now);
      continue;
    }
    (void)openSocket(addr, len, now);
  }
}

// The old link's datagrams: ACKs only, sent at once, best effort (a lost one
// is asked for again by the old node's retransmission).
void UdpConnection::writeOld() {
  scratch_.clear();
  session_.takeOldLinkDatagrams(scratch_);
  sendBestEffort(oldFd_, scratch_);
  scratch_.clear();
}


void UdpConnection::closeOld() {
  if (!oldFd_) return;
  loop_.poller().remove(oldFd_.get());
  oldFd_.reset();
}

void UdpConnection::readOld(double now) {
  for (int i = 0; i < 64 && oldFd_ && !session_.closed(); ++i) {
    const long n = recvBytes(oldFd_.get(), loop_.readBuffer(), loop_.readBufferSize());
    if (n >= 0) {
      session_.onOldLinkDatagram(loop_.readBuffer(), static_cast<size_t>(n), now);
      if (session_.linkActionPending()) return;  // the old link ended
      continue;
    }
    if (transientError(lastSocketError())) continue;
    return;  // EAGAIN, or an error: the old link ends at its deadline anyway
  }
}

void UdpConnection::send(uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len, bool reliable,
                         size_t reserved, double now) {
  // Hand the caller's reservation over to the session's own: release first so
  // the two never count twice against maxQueuedBytes.
  const bool drainDue = shared_->budget.release(reserved);
  const ErrorCode rc = session_.send(ver, cmd, body, len, reliable, now, nullptr);
  if (drainDue) {
    if (shared_->budget.queued() >= shared_->highWaterMark) {
      (void)shared_->budget.reserve(0, nullptr);  // still above: re-arm the Drain instead
    } else {
      Event ev;
      ev.type = EventType::Drain;
      events_.push_back(std::move(ev));
    }
  }
  if (rc != ErrorCode::None && rc != ErrorCode::NotConnected) {
    Event ev;  // the caller's checks passed, so this is unexpected: say so, keep the connection
    ev.type = EventType::Error;
    ev.code = rc;
    ev.message = std::string("send dropped: ") + errorCodeName(rc);
    events_.push_back(std::move(ev));
  }
  settleSend(now);
}

// After a send: what the caller must see at once (state, events), and the rest (pack,
// collect, the timer) left to this turn's flush, once for all of the turn's sends (a full
// settle per send was most of the send path's own cost at 64 in flight: issue 9, eighth
// session). Both drivers flush every dirty handler before they wait (HostLoop::drain or the
// prepare phase; Loop::run's flushDirty), and flush() ends in settle(). A blocked socket is
// written when writable, not flushed: then, and for link work or a closed session, settle now.
void UdpConnection::settleSend(double now) {
  if (gone_) return;
  if (blocked_ || session_.closed() || !session_.linkIdle()) return settle(now);
  shared_->state.store(session_.state(), std::memory_order_release);
  if (session_.takeEvents(events_) || !events_.empty()) {
    shared_->deliver(events_);
    std::vector<Event>().swap(events_);
  }
  loop_.markDirty(id_);
}

void UdpConnection::close(bool graceful, double now) {
  session_.close(graceful, now);
  settle(now);
}

void UdpConnection::onReady(const PollEvent& ev, double now) {
  if (ev.readable || ev.failed) {
    readAll(now);
    applyLinkActions(now);
    if (oldFd_) {
      readOld(now);
      applyLinkActions(now);
    }
  }
  if (ev.writable && !session_.closed()) writeNow(now);
  settle(now);
}

void UdpConnection::resumeReceive(double now) {
  if (gone_ || !session_.receivePaused()) return;
  session_.setReceivePaused(false, now);
  settle(now);
}

// One received datagram: false once the session closed or the rest of this socket's input
// is not for its current link (the migrate answer: what follows it is the old node's).
bool UdpConnection::deliverDatagram(const uint8_t* data, size_t len, double now) {
  const uint64_t link = session_.linkGeneration();
  session_.onDatagram(data, len, now);
  if (session_.closed()) return false;
  if (link != session_.linkGeneration() && session_.linkActionPending()) return false;
  if (session_.receivePaused() || session_.linkActionPending()) return true;
  if (session_.takeEvents(events_)) {
    shared_->state.store(session_.state(), std::memory_order_release);  // before the callbacks, as settle()
    shared_->deliver(events_);
    events_.clear();
  }
  // Past the receive high-water mark (events or the packets the session put in the
  // host's queue itself): reading goes on (ACKs), new DATs are refused.
  if (shared_->shouldPauseReceive()) {
    shared_->stats.add(&Stats::receivePauses);
    session_.setReceivePaused(true, now);
  }
  return true;
}

#ifdef __linux__
// recvmmsg: up to kBatch datagrams per system call, each into its own slice of the loop's
// read buffer (2 KiB: a protocol datagram is at most ~1.4 KB; a longer one is cut, and
// dropped as too-large).
void UdpConnection::readAll(double now) {
  constexpr size_t kSlot = 2048;
  static_assert(kBatch * kSlot <= 64 * 1024, "the loop's read buffer holds a batch");
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  uint8_t* const buf = loop_.readBuffer();
  const unsigned slots = static_cast<unsigned>(std::min<size_t>(kBatch, loop_.readBufferSize() / kSlot));
  // Bounded per wakeup so one busy socket cannot starve the others (level-triggered).
  for (int round = 0; round < 2 && fd_ && !session_.closed(); ++round) {
    for (unsigned i = 0; i < slots; ++i) {
      iov[i].iov_base = buf + i * kSlot;
      iov[i].iov_len = kSlot;
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd_.get(), msgs, slots, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      const int err = lastSocketError();
      if (transientError(err)) continue;
      if (isTransientSocketError(err)) return;  // EAGAIN; EINTR: level-triggered, read next turn
      session_.onSocketError(ErrorCode::NetworkError, socketText("recvmmsg", err), now);
      return;
    }
    for (int i = 0; i < n; ++i) {
      const uint8_t* d = buf + static_cast<size_t>(i) * kSlot;
      const size_t len = msgs[i].msg_len;
      if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        shared_->stats.drop(DropReason::TooLarge);
        continue;
      }
      if (deliverDatagram(d, len, now)) continue;
      // Read in the same batch after the migrate answer: the old node's, in order.
      for (++i; i < n && session_.oldLinkOpen() && !session_.closed(); ++i) {
        const uint8_t* rest = buf + static_cast<size_t>(i) * kSlot;
        if ((msgs[i].msg_hdr.msg_flags & MSG_TRUNC) == 0) session_.onOldLinkDatagram(rest, msgs[i].msg_len, now);
      }
      return;
    }
    if (static_cast<unsigned>(n) < slots) return;  // drained
  }
}
#else
void UdpConnection::readAll(double now) {
  // Bounded per wakeup so one busy socket cannot starve the others (epoll is
  // level-triggered: what is left wakes us again).
  for (int i = 0; i < 64 && fd_ && !session_.closed(); ++i) {
    const long n = recvBytes(fd_.get(), loop_.readBuffer(), loop_.readBufferSize());
    if (n >= 0) {
      if (!deliverDatagram(loop_.readBuffer(), static_cast<size_t>(n), now)) return;
      continue;
    }
    const int err = lastSocketError();
    if (transientError(err)) continue;
    if (isTransientSocketError(err)) return;  // EAGAIN; EINTR: level-triggered, read next turn
    session_.onSocketError(ErrorCode::NetworkError, socketText("recv", err), now);
    return;
  }
}

#endif

void UdpConnection::collect(bool flush) {
  if (session_.linkActionPending()) return;  // those datagrams are for the socket to come
  scratch_.clear();
  // Mid-turn only complete datagrams: small reliable sends of one turn share a DAT.
  if (flush) session_.takeDatagrams(scratch_);
  else session_.takeReadyDatagrams(scratch_);
  for (Bytes& d : scratch_) {
    const bool unreliable = d.size() >= rudp::kHeaderSize && d[3] == static_cast<uint8_t>(rudp::Flag::Udp);
    if (unreliable && pending_.size() >= kMaxPending) {
      shared_->stats.add(&Stats::sendDropped);
      continue;
    }
    pending_.push_back(std::move(d));
  }
  scratch_.clear();
}

void UdpConnection::writeNow(double now) {
  blocked_ = false;
  collect(true);
  while (fd_ && !pending_.empty()) {
    const int sent = sendBatch(fd_.get(), pending_);
    if (sent > 0) {
      for (int k = 0; k < sent; ++k) pending_.pop_front();
      continue;
    }
    const int err = lastSocketError();
    if (isTransientSocketError(err)) {
      blocked_ = true;  // resume when writable (EINTR too: the poller reports it writable)
      return;
    }
    if (transientError(err)) {
      pending_.pop_front();  // this datagram is lost, like any datagram may be
      continue;
    }
    pending_.clear();
    session_.onSocketError(ErrorCode::NetworkError, socketText("send", err), now);
    return;
  }
}

void UdpConnection::onTimer(double now) {
  session_.onTimer(now);
  settle(now);
}

void UdpConnection::flush(double now) {
  writeNow(now);
  settle(now);
}

void UdpConnection::setWantWrite(bool want) {
  if (!registered_ || want == wantWrite_) return;
  wantWrite_ = want;
  loop_.poller().modify(fd_.get(), id_, want);
}

void UdpConnection::settle(double now) {
  if (gone_) return;
  applyLinkActions(now);
  shared_->state.store(session_.state(), std::memory_order_release);
  if (session_.closed()) shared_->keepUnsent(session_.takeUnsent());
  if (session_.takeEvents(events_) || !events_.empty()) {
    shared_->deliver(events_);
    std::vector<Event>().swap(events_);  // no storage kept while idle (an Event is 136 bytes)
  }
  if (session_.closed()) {
    if (fd_ && !blocked_) writeNow(now);  // the FIN / last ACKs, best effort
    teardown();
    return;
  }
  loop_.schedule(id_, session_.nextDeadline());
  // A socket that said EAGAIN is written when it becomes writable; otherwise
  // output from this input leaves at the end of the iteration, coalesced.
  collect(false);
  setWantWrite(blocked_);
  // A partly packed DAT or ACK records not yet due wait for the session's timer, not a spin.
  if (!blocked_ && (!pending_.empty() || session_.flushDue())) loop_.markDirty(id_);
}

void UdpConnection::closeSocket() {
  gone_ = true;
  if (registered_) loop_.poller().remove(fd_.get());
  registered_ = false;
  fd_.reset();
  closeOld();
  pending_.clear();
  if (shared_->conn == this) shared_->conn = nullptr;
}

void UdpConnection::teardown() {
  closeSocket();
  loop_.detach(id_);  // destroyed at the end of the iteration
}

// The Loop forgets us itself (detach or shutdown). No callbacks, but the node
// is told with a FIN rather than left to time the session out.
void UdpConnection::abandon() {
  if (gone_) return;
  shared_->state.store(ClientState::Closed, std::memory_order_release);
  if (fd_ && !session_.closed()) {
    const double now = Runtime::nowMs();
    session_.close(false, now);
    writeNow(now);
  }
  closeSocket();
}

// After an exception: the session may be half-updated, so no last write (no FIN).
void UdpConnection::fail(const char* what) noexcept {
  if (gone_) return;
  closeSocket();
  client::failInternal(*shared_, session_, what);
}

}  // namespace diarkis
