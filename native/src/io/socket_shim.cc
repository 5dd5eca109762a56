// io/socket_shim.h on POSIX and on Winsock.
#include "io/socket_shim.h"

#ifdef _WIN32
#include <mswsock.h>  // SIO_UDP_CONNRESET
#include <windows.h>
#else
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#endif

namespace diarkis {

#ifdef _WIN32

bool socketsStartup() {
  // Function-local static: one WSAStartup per process, thread-safe. Never paired
  // with WSACleanup: sockets may outlive static destruction (addon unload order).
  static const int result = [] {
    WSADATA data;
    return WSAStartup(MAKEWORD(2, 2), &data);
  }();
  if (result != 0) WSASetLastError(result);
  return result == 0;
}

SocketHandle openSocket(int family, int type) {
  if (!socketsStartup()) return kInvalidSocket;
  SOCKET s = WSASocketW(family, type, 0, nullptr, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET) return kInvalidSocket;
  if (!setNonBlocking(s) || (type == SOCK_DGRAM && !disableUdpConnReset(s))) {
    const int err = WSAGetLastError();
    closesocket(s);
    WSASetLastError(err);
    return kInvalidSocket;
  }
  return s;
}

int closeSocket(SocketHandle s) { return closesocket(s); }

bool setNonBlocking(SocketHandle s, bool on) {
  u_long mode = on ? 1 : 0;
  return ioctlsocket(s, FIONBIO, &mode) == 0;
}

bool disableUdpConnReset(SocketHandle s) {
  BOOL report = FALSE;
  DWORD bytes = 0;
  return WSAIoctl(s, SIO_UDP_CONNRESET, &report, sizeof report, nullptr, 0, &bytes, nullptr,
                  nullptr) == 0;
}

int lastSocketError() { return WSAGetLastError(); }

bool isTransientSocketError(int err) { return err == WSAEWOULDBLOCK || err == WSAEINTR; }

bool isConnectInProgress(int err) { return err == WSAEWOULDBLOCK || err == WSAEINPROGRESS; }

bool isConnectionRefused(int err) { return err == WSAECONNREFUSED; }

bool isDatagramLossError(int err) {
  return err == WSAECONNREFUSED || err == WSAECONNRESET || err == WSAEHOSTUNREACH ||
         err == WSAENETUNREACH || err == WSAEMSGSIZE || err == WSAENOBUFS || err == WSAENETRESET;
}

long sendBytes(SocketHandle s, const void* data, size_t len) {
  return ::send(s, static_cast<const char*>(data), static_cast<int>(len), kSendFlags);
}

long recvBytes(SocketHandle s, void* data, size_t len) {
  return ::recv(s, static_cast<char*>(data), static_cast<int>(len), 0);
}

bool setIntOption(SocketHandle s, int level, int name, int value) {
  return ::setsockopt(s, level, name, reinterpret_cast<const char*>(&value), sizeof value) == 0;
}

int pendingSocketError(SocketHandle s) {
  int err = 0;
  int len = sizeof err;
  if (::getsockopt(s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&err), &len) != 0) {
    return WSAGetLastError();
  }
  return err;
}

bool shutdownWrite(SocketHandle s) { return ::shutdown(s, SD_SEND) == 0; }

std::string socketErrorText(int err) {
  char buf[256] = {0};
  const DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                                 static_cast<DWORD>(err), 0, buf, sizeof buf, nullptr);
  std::string text(buf, n);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '.')) {
    text.pop_back();
  }
  return text.empty() ? "Winsock error " + std::to_string(err) : text;
}

#else  // POSIX

bool socketsStartup() { return true; }

SocketHandle openSocket(int family, int type) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  return ::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
  // macOS/BSD: no atomic flags; set them right after (the window only matters to a
  // concurrent fork+exec, which this library does not do).
  const int s = ::socket(family, type, 0);
  if (s < 0) return kInvalidSocket;
#ifdef SO_NOSIGPIPE
  int on = 1;
  ::setsockopt(s, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
  if (::fcntl(s, F_SETFD, FD_CLOEXEC) != 0 || !setNonBlocking(s)) {
    const int err = errno;
    ::close(s);
    errno = err;
    return kInvalidSocket;
  }
  return s;
#endif
}

int closeSocket(SocketHandle s) { return ::close(s); }

bool setNonBlocking(SocketHandle s, bool on) {
  const int flags = ::fcntl(s, F_GETFL, 0);
  return flags >= 0 && ::fcntl(s, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK)) == 0;
}

bool disableUdpConnReset(SocketHandle) { return true; }

int lastSocketError() { return errno; }

bool isTransientSocketError(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

bool isConnectInProgress(int err) { return err == EINPROGRESS; }

std::string socketErrorText(int err) { return std::strerror(err); }

bool isConnectionRefused(int err) { return err == ECONNREFUSED; }

bool isDatagramLossError(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EMSGSIZE ||
         err == ENOBUFS;
}

long sendBytes(SocketHandle s, const void* data, size_t len) {
  return static_cast<long>(::send(s, data, len, kSendFlags));
}

long recvBytes(SocketHandle s, void* data, size_t len) {
  return static_cast<long>(::recv(s, data, len, 0));
}

bool setIntOption(SocketHandle s, int level, int name, int value) {
  return ::setsockopt(s, level, name, &value, sizeof value) == 0;
}

int pendingSocketError(SocketHandle s) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

bool shutdownWrite(SocketHandle s) { return ::shutdown(s, SHUT_WR) == 0; }

#endif

}  // namespace diarkis
