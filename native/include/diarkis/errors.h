// Error and disconnect codes, and the reasons a packet is dropped.
//
// This is the one table of codes for the whole project, in the order and with the
// numbers of CAPI.md's table: an ErrorCode's value is minus its C ABI code
// (DK_ERR_*; None is DK_OK = 0), so the list is append-only. The string names are
// what JavaScript sees as DiarkisError.code and as disconnect reasons, and what
// dk_error_name returns. src/client/errors.ts and bindings/c/include/diarkis.h
// carry the same list; test/error-codes.test.ts fails when the three disagree.
#pragma once
#include <cstdint>

namespace diarkis {

#define DIARKIS_ERROR_CODES(X)                  \
  X(None, "none")                    /*   0 */  \
  X(InvalidArgument, "invalid-argument") /* -1 */ \
  X(NotConnected, "not-connected")   /*  -2 */  \
  X(Refused, "refused")              /*  -3 */  \
  X(ConnectTimeout, "connect-timeout") /* -4 */ \
  X(Timeout, "timeout")              /*  -5 */  \
  X(ClosedByServer, "closed-by-server") /* -6 */ \
  X(ClosedByUser, "closed-by-user")  /*  -7 */  \
  X(ServerShutdown, "server-shutdown") /* -8 */ \
  X(ProtocolError, "protocol-error") /*  -9 */  \
  X(PayloadTooLarge, "payload-too-large") /* -10 */ \
  X(QueueFull, "queue-full")         /* -11 */  \
  X(NoTarget, "no-target")           /* -12 */  \
  X(MigrationFailed, "migration-failed") /* -13 */ \
  X(NetworkError, "network-error")   /* -14 */  \
  X(InternalError, "internal-error") /* -15 */  \
  X(Kicked, "kicked")                /* -16 */  \
  X(Unauthorized, "unauthorized")    /* -17 */  \
  X(EndpointUnavailable, "endpoint-unavailable") /* -18 */ \
  X(EndpointError, "endpoint-error") /* -19 */  \
  X(AddonUnavailable, "addon-unavailable") /* -20 */ \
  X(BadMac, "bad-mac")               /* -21 */  \
  X(RoomMigrationTimeout, "room-migration-timeout") /* -22 */ \
  X(NotOwner, "not-owner")           /* -23 */  \
  X(NotInRoom, "not-in-room")        /* -24 */  \
  X(AlreadyInRoom, "already-in-room") /* -25 */ \
  X(RoomNotFound, "room-not-found")  /* -26 */  \
  X(RoomFull, "room-full")           /* -27 */  \
  X(RoomBusy, "room-busy")           /* -28 */ \
  X(ReceiveStalled, "receive-stalled") /* -29 */

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
  X(Unexpected, "unexpected")              \
  X(ReceiveBacklog, "receive-backlog")

enum class DropReason : uint8_t {
#define DIARKIS_X(name, str) name,
  DIARKIS_DROP_REASONS(DIARKIS_X)
#undef DIARKIS_X
  Count
};

const char* dropReasonName(DropReason reason);

}  // namespace diarkis
