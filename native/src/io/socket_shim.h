// A small portable layer over BSD sockets and Winsock, so that the io layer is
// written once: handle type, open (non-blocking, not inherited), close, the last
// error and what it means, and the Windows-only UDP quirk (SIO_UDP_CONNRESET).
#pragma once
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <cstddef>
#include <string>
#include <utility>

#include "diarkis/socket_handle.h"

namespace diarkis {

// Flags for send()/sendto(): MSG_NOSIGNAL where it exists (Linux; a write to a
// reset TCP peer must not raise SIGPIPE), 0 elsewhere (macOS/BSD set SO_NOSIGPIPE
// at open; Windows has no SIGPIPE).
#ifdef MSG_NOSIGNAL
inline constexpr int kSendFlags = MSG_NOSIGNAL;
#else
inline constexpr int kSendFlags = 0;
#endif

// Winsock needs WSAStartup once per process before any socket call; idempotent and
// thread-safe, true on POSIX. False (with lastSocketError()) if Winsock refuses.
bool socketsStartup();

// socket(family, type, 0), non-blocking and not inherited by child processes; a UDP
// socket on Windows also gets SIO_UDP_CONNRESET off. kInvalidSocket on failure,
// with lastSocketError() set.
SocketHandle openSocket(int family, int type);

int closeSocket(SocketHandle s);
// on=false makes it blocking again (tests, and accept loops that want to block).
bool setNonBlocking(SocketHandle s, bool on = true);
// A connected UDP socket on Windows fails its next recv with WSAECONNRESET when an
// earlier datagram drew an ICMP port-unreachable; game traffic treats that as loss,
// so the report is turned off. No-op (true) on POSIX.
bool disableUdpConnReset(SocketHandle s);

// errno, or WSAGetLastError() on Windows.
int lastSocketError();
// The call would block (EAGAIN/EWOULDBLOCK/WSAEWOULDBLOCK) or was interrupted: retry later.
bool isTransientSocketError(int err);
// A non-blocking connect() that is under way (EINPROGRESS, or WSAEWOULDBLOCK on Windows).
bool isConnectInProgress(int err);
std::string socketErrorText(int err);
// The peer refused the connection (ECONNREFUSED / WSAECONNREFUSED).
bool isConnectionRefused(int err);
// What an ICMP error (port/host unreachable), an oversized datagram or a full
// buffer reports on a connected UDP socket: the loss of one datagram, not of the link.
bool isDatagramLossError(int err);

// One send()/recv() of a byte range (send with kSendFlags): the byte count, or -1
// with lastSocketError(). Winsock takes char* and int lengths; this hides that.
long sendBytes(SocketHandle s, const void* data, size_t len);
long recvBytes(SocketHandle s, void* data, size_t len);
// setsockopt of an int option (TCP_NODELAY, SO_RCVBUF, ...).
bool setIntOption(SocketHandle s, int level, int name, int value);
// The outcome of a non-blocking connect once the socket is writable (SO_ERROR):
// 0 when it connected, else the error.
int pendingSocketError(SocketHandle s);
// Half-close: our side is done sending (SHUT_WR / SD_SEND), reads go on.
bool shutdownWrite(SocketHandle s);

// Owns a socket. Hazard it removes: a socket leaked on an early return, or closed
// twice after a move.
class UniqueSocket {
 public:
  UniqueSocket() = default;
  explicit UniqueSocket(SocketHandle s) : s_(s) {}
  ~UniqueSocket() { reset(); }
  UniqueSocket(UniqueSocket&& o) noexcept : s_(std::exchange(o.s_, kInvalidSocket)) {}
  UniqueSocket& operator=(UniqueSocket&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, kInvalidSocket);
    }
    return *this;
  }
  UniqueSocket(const UniqueSocket&) = delete;
  UniqueSocket& operator=(const UniqueSocket&) = delete;

  SocketHandle get() const { return s_; }
  explicit operator bool() const { return s_ != kInvalidSocket; }
  SocketHandle release() { return std::exchange(s_, kInvalidSocket); }
  void reset() {
    if (s_ != kInvalidSocket) closeSocket(s_);
    s_ = kInvalidSocket;
  }

 private:
  SocketHandle s_ = kInvalidSocket;
};

}  // namespace diarkis
