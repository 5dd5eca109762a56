// Connected TCP socket pairs on 127.0.0.1 through the portable socket shim, for the
// poller and shim tests (socketpair() does not exist on Windows).
#pragma once
#include <cstddef>

#include "io/socket_shim.h"

namespace diarkis::test {

// Both ends non-blocking. False (and a gtest failure) if the OS refuses.
bool tcpLoopbackPair(UniqueSocket& a, UniqueSocket& b);

// One send()/recv() through the shim; the byte count, or -1 with lastSocketError().
long sendSome(SocketHandle s, const void* data, size_t len);
long recvSome(SocketHandle s, void* data, size_t len);

}  // namespace diarkis::test
