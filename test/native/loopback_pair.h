// Connected TCP socket pairs on 127.0.0.1 through the portable socket shim, for the
// poller and shim tests (socketpair() does not exist on Windows).
#pragma once
#include <cstddef>

#include "io/socket_shim.h"

namespace diarkis::test {

// Both ends non-blocking. False (and a gtest failure) if the OS refuses.
bool tcpLoopbackPair(UniqueSocket& a, UniqueSocket& b);

}  // namespace diarkis::test
