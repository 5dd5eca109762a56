// Error and disconnect codes, and the reasons a packet is dropped.
//
// This is the one table of codes for the whole project: the string names are
// what JavaScript sees as DiarkisError.code and as disconnect reasons, and what
// the README lists. src/client/errors.ts mirrors it; keep the two in step.
#pragma once
#include <cstdint>

namespace diarkis {

#define DIARKIS_ERROR_CODES(X)                 \
  X(None, "none")                              \
  X(Refused, "refused")                        \
  X(ConnectTimeout, "connect-timeout")         \
  X(Timeout, "timeout")                        \
  X(ClosedByServer, "closed-by-server")        \
  X(ClosedByUser, "closed-by-user")            \
  X(ServerShutdown, "server-shutdown")         \
  X(Kicked, "kicked")                          \
  X(ProtocolError, "protocol-error")           \
  X(BadMac, "bad-mac")                         \
  X(PayloadTooLarge, "payload-too-large")      \
  X(QueueFull, "queue-full")                   \
  X(NoTarget, "no-target")                     \
  X(MigrationFailed, "migration-failed")       \
  X(NetworkError, "network-error")             \
  X(InvalidArgument, "invalid-argument")       \
  X(NotConnected, "not-connected")             \
  X(RoomMigrationTimeout, "room-migration-timeout") \
  X(InternalError, "internal-error")

enum class ErrorCode : uint8_t {
#define DIARKIS_X(name, str) name,
  DIARKIS_ERROR_CODES(DIARKIS_X)
#undef DIARKIS_X
};

// Stable string name ("refused", "timeout", ...). Never null.
const char* errorCodeName(ErrorCode code);
// Inverse of errorCodeName; returns false for an unknown name.
bool errorCodeFromName(const char* name, ErrorCode& out);

// Why an incoming packet or datagram was dropped. Counted per reason in Stats.
#define DIARKIS_DROP_REASONS(X)            \
  X(BadMagic, "bad-magic")                 \
  X(TooLarge, "too-large")                 \
  X(Truncated, "truncated")                \
  X(BadMac, "bad-mac")                     \
  X(BadSecure, "bad-secure")               \
  X(BadStatus, "bad-status")               \
  X(BadBody, "bad-body")                   \
  X(Duplicate, "duplicate")                \
  X(OutOfWindow, "out-of-window")          \
  X(BadFragment, "bad-fragment")           \
  X(ForeignAddress, "foreign-address")     \
  X(UnknownFlag, "unknown-flag")           \
  X(Unexpected, "unexpected")

enum class DropReason : uint8_t {
#define DIARKIS_X(name, str) name,
  DIARKIS_DROP_REASONS(DIARKIS_X)
#undef DIARKIS_X
  Count
};

const char* dropReasonName(DropReason reason);

}  // namespace diarkis
