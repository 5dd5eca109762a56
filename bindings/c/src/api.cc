// The dk_ entry points: argument checks, then a call into the C++ client. Every
// entry point catches everything: no exception crosses the C boundary.
#include <cstring>
#include <exception>
#include <new>

#include "client.h"
#include "context.h"
#include "convert.h"
#include "diarkis.h"
#include "diarkis/errors.h"
#include "room.h"

using diarkis::ErrorCode;
using diarkis_c::dkCode;

// The C list and the C++ list are one table (errors.h): a number out of step is a compile error.
#define DK_CHECK(cpp, c) static_assert(-static_cast<int>(ErrorCode::cpp) == (c), #c);
DK_CHECK(None, DK_OK)
DK_CHECK(InvalidArgument, DK_ERR_INVALID_ARGUMENT)
DK_CHECK(NotConnected, DK_ERR_NOT_CONNECTED)
DK_CHECK(Refused, DK_ERR_REFUSED)
DK_CHECK(ConnectTimeout, DK_ERR_CONNECT_TIMEOUT)
DK_CHECK(Timeout, DK_ERR_TIMEOUT)
DK_CHECK(ClosedByServer, DK_ERR_CLOSED_BY_SERVER)
DK_CHECK(ClosedByUser, DK_ERR_CLOSED_BY_USER)
DK_CHECK(ServerShutdown, DK_ERR_SERVER_SHUTDOWN)
DK_CHECK(ProtocolError, DK_ERR_PROTOCOL_ERROR)
DK_CHECK(PayloadTooLarge, DK_ERR_PAYLOAD_TOO_LARGE)
DK_CHECK(QueueFull, DK_ERR_QUEUE_FULL)
DK_CHECK(NoTarget, DK_ERR_NO_TARGET)
DK_CHECK(MigrationFailed, DK_ERR_MIGRATION_FAILED)
DK_CHECK(NetworkError, DK_ERR_NETWORK_ERROR)
DK_CHECK(InternalError, DK_ERR_INTERNAL_ERROR)
DK_CHECK(Kicked, DK_ERR_KICKED)
DK_CHECK(Unauthorized, DK_ERR_UNAUTHORIZED)
DK_CHECK(EndpointUnavailable, DK_ERR_ENDPOINT_UNAVAILABLE)
DK_CHECK(EndpointError, DK_ERR_ENDPOINT_ERROR)
DK_CHECK(AddonUnavailable, DK_ERR_ADDON_UNAVAILABLE)
DK_CHECK(BadMac, DK_ERR_BAD_MAC)
DK_CHECK(RoomMigrationTimeout, DK_ERR_ROOM_MIGRATION_TIMEOUT)
DK_CHECK(NotOwner, DK_ERR_NOT_OWNER)
DK_CHECK(NotInRoom, DK_ERR_NOT_IN_ROOM)
DK_CHECK(AlreadyInRoom, DK_ERR_ALREADY_IN_ROOM)
DK_CHECK(RoomNotFound, DK_ERR_ROOM_NOT_FOUND)
DK_CHECK(RoomFull, DK_ERR_ROOM_FULL)
DK_CHECK(RoomBusy, DK_ERR_ROOM_BUSY)
DK_CHECK(ReceiveStalled, DK_ERR_RECEIVE_STALLED)
#undef DK_CHECK
#define DK_CHECK(cpp, c) static_assert(static_cast<int>(diarkis::ClientState::cpp) == (c), #c);
DK_CHECK(Idle, DK_STATE_IDLE)
DK_CHECK(Connecting, DK_STATE_CONNECTING)
DK_CHECK(Connected, DK_STATE_CONNECTED)
DK_CHECK(Migrating, DK_STATE_MIGRATING)
DK_CHECK(Closing, DK_STATE_CLOSING)
DK_CHECK(Closed, DK_STATE_CLOSED)
#undef DK_CHECK

namespace {

constexpr int kBad = DK_ERR_INVALID_ARGUMENT;

// Runs fn, turning any exception into an error code.
template <class Fn>
int guarded(Fn fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return DK_ERR_QUEUE_FULL;  // out of memory: nothing was queued
  } catch (...) {
    return DK_ERR_INTERNAL_ERROR;
  }
}

// fn(client) for a live id of ctx; INVALID_ARGUMENT for anything else.
template <class Fn>
int withClient(dk_context* ctx, int id, Fn fn) noexcept {
  return guarded([&]() -> int {
    if (ctx == nullptr || id <= 0) return kBad;
    std::shared_ptr<diarkis_c::Client> c = ctx->find(id);
    return c ? fn(*c) : kBad;
  });
}

template <class C, class Options>
int create(dk_context* ctx, const Options& options) {
  auto client = std::make_shared<C>(ctx->runtime, options, ctx->sink);
  const int id = ctx->add(client);
  client->setId(id);
  // Bounded even when nobody polls: past its receive high-water mark the client pauses reading.
  ctx->sink->queue.track(static_cast<uint64_t>(id), client->backlog());
  return id;
}

int send(dk_context* ctx, int id, uint8_t ver, uint16_t cmd, const uint8_t* data, uint32_t len, bool reliable) {
  if (data == nullptr && len > 0) return kBad;
  return withClient(ctx, id, [&](diarkis_c::Client& c) {
    bool writable = true;
    const ErrorCode rc = c.send(ver, cmd, data, len, reliable, &writable);
    if (rc != ErrorCode::None) return dkCode(rc);
    return writable ? 0 : 1;
  });
}

}  // namespace

extern "C" {

DK_API int DK_CALL dk_api_version(void) { return DK_API_VERSION; }

DK_API const char* DK_CALL dk_error_name(int code) {
  if (code > 0 || code < DK_ERR_RECEIVE_STALLED) return "unknown";
  return diarkis::errorCodeName(static_cast<ErrorCode>(-code));
}

DK_API dk_context* DK_CALL dk_context_create(void) {
  try {
    return new dk_context();
  } catch (...) {
    return nullptr;
  }
}

DK_API void DK_CALL dk_context_destroy(dk_context* ctx) {
  try {
    delete ctx;
  } catch (...) {
    // the runtime's shutdown does not throw; nothing more can be done here
  }
}

DK_API int DK_CALL dk_context_wake(dk_context* ctx) {
  return guarded([&] {
    if (ctx == nullptr) return kBad;
    ctx->sink->wake();
    return 0;
  });
}

DK_API int DK_CALL dk_tcp_create(dk_context* ctx, const dk_options* opts) {
  return guarded([&] {
    diarkis::TcpOptions o;
    if (ctx == nullptr || !diarkis_c::toTcpOptions(opts, o)) return kBad;
    return create<diarkis_c::TcpClient>(ctx, o);
  });
}

DK_API int DK_CALL dk_udp_create(dk_context* ctx, const dk_options* opts) {
  return guarded([&] {
    diarkis::UdpOptions o;
    if (ctx == nullptr || !diarkis_c::toUdpOptions(opts, o)) return kBad;
    return create<diarkis_c::UdpClient>(ctx, o);
  });
}

DK_API int DK_CALL dk_connect(dk_context* ctx, int client, const dk_endpoint* ep) {
  return withClient(ctx, client, [&](diarkis_c::Client& c) {
    std::string host;
    diarkis::SessionKeys keys;
    if (!diarkis_c::toEndpoint(ep, host, keys)) return kBad;
    return dkCode(c.connect(host, ep->port, keys));
  });
}

DK_API int DK_CALL dk_send(dk_context* ctx, int client, uint8_t ver, uint16_t cmd, const uint8_t* data,
                           uint32_t len) {
  return send(ctx, client, ver, cmd, data, len, false);
}

DK_API int DK_CALL dk_rsend(dk_context* ctx, int client, uint8_t ver, uint16_t cmd, const uint8_t* data,
                            uint32_t len) {
  return send(ctx, client, ver, cmd, data, len, true);
}

DK_API int DK_CALL dk_send_migrate(dk_context* ctx, int client) {
  return withClient(ctx, client, [](diarkis_c::Client& c) { return dkCode(c.migrate()); });
}

DK_API int DK_CALL dk_close(dk_context* ctx, int client) {
  return withClient(ctx, client, [](diarkis_c::Client& c) {
    c.close();
    return 0;
  });
}

DK_API int DK_CALL dk_destroy(dk_context* ctx, int client) {
  return guarded([&] {
    if (ctx == nullptr || client <= 0) return kBad;
    std::shared_ptr<diarkis_c::Client> c = ctx->remove(client);
    if (!c) return kBad;
    c.reset();  // Detach()es unless another call holds it for a moment; dk_poll skips its events anyway
    ctx->sink->queue.forget(client);
    return 0;
  });
}

DK_API int DK_CALL dk_state(dk_context* ctx, int client) {
  return withClient(ctx, client, [](diarkis_c::Client& c) { return static_cast<int>(c.state()); });
}

DK_API int DK_CALL dk_stats_get(dk_context* ctx, int client, dk_stats* out) {
  if (out == nullptr || out->struct_size < diarkis_c::kStatsV1) return kBad;
  return withClient(ctx, client, [&](diarkis_c::Client& c) {
    diarkis_c::toStats(c.stats(), *out);
    return 0;
  });
}

DK_API int DK_CALL dk_poll(dk_context* ctx, dk_event* out, int max, int timeout_ms) {
  return guarded([&] {
    if (ctx == nullptr || out == nullptr || max <= 0 || timeout_ms < -1) return kBad;
    if (timeout_ms != 0) ctx->sink->wait(timeout_ms);
    ctx->sink->queue.take(ctx->batch, static_cast<size_t>(max));
    int n = 0;
    for (diarkis::QueuedEvent& q : ctx->batch) {
      const int id = static_cast<int>(q.clientId);  // the queue holds C ids (int) for this context
      if (!ctx->find(id)) continue;  // destroyed since: no event follows dk_destroy
      diarkis_c::toEvent(id, q.ev, out[n++]);
    }
    return n;
  });
}

DK_API int DK_CALL dk_room_create(dk_context* ctx, int client, uint32_t max_members, const char* props_json) {
  return withClient(ctx, client, [&](diarkis_c::Client& c) { return c.room().create(max_members, props_json); });
}

DK_API int DK_CALL dk_room_join(dk_context* ctx, int client, const char* room_id) {
  return withClient(ctx, client, [&](diarkis_c::Client& c) { return c.room().join(room_id); });
}

DK_API int DK_CALL dk_room_leave(dk_context* ctx, int client) {
  return withClient(ctx, client, [](diarkis_c::Client& c) { return c.room().leave(); });
}

DK_API int DK_CALL dk_room_info(dk_context* ctx, int client) {
  return withClient(ctx, client, [](diarkis_c::Client& c) { return c.room().info(); });
}

DK_API int DK_CALL dk_room_set_props(dk_context* ctx, int client, const char* props_json) {
  return withClient(ctx, client, [&](diarkis_c::Client& c) { return c.room().setProps(props_json); });
}

DK_API int DK_CALL dk_room_broadcast(dk_context* ctx, int client, const uint8_t* data, uint32_t len) {
  if (data == nullptr && len > 0) return kBad;
  return withClient(ctx, client, [&](diarkis_c::Client& c) { return c.room().broadcast(data, len, true); });
}

DK_API int DK_CALL dk_room_broadcast_unreliable(dk_context* ctx, int client, const uint8_t* data, uint32_t len) {
  if (data == nullptr && len > 0) return kBad;
  return withClient(ctx, client, [&](diarkis_c::Client& c) { return c.room().broadcast(data, len, false); });
}

DK_API int DK_CALL dk_room_migrate(dk_context* ctx, int client) {
  return withClient(ctx, client, [](diarkis_c::Client& c) { return c.room().migrate(); });
}

}  // extern "C"
