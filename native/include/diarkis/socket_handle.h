// The socket handle type, without the OS headers: `int` on POSIX, Winsock's SOCKET
// (a UINT_PTR) on Windows. Headers that only pass handles around (poller.h) include
// this instead of io/socket_shim.h (winsock2.h). Public: HostIo (runtime.h) passes it.
#pragma once
#include <cstdint>

namespace diarkis {

#ifdef _WIN32
using SocketHandle = std::uintptr_t;                               // SOCKET
inline constexpr SocketHandle kInvalidSocket = ~SocketHandle{0};  // INVALID_SOCKET
#else
using SocketHandle = int;
inline constexpr SocketHandle kInvalidSocket = -1;
#endif

}  // namespace diarkis
