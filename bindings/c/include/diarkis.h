/* diarkis.h: the flat C ABI of the Diarkis realtime client (TCP and RUDP with
 * live migration), for game engines and anything with a C FFI.
 *
 * C11, self-contained (only <stdint.h>). The contract (names, numbers, struct
 * layouts) is append-only: see docs/engines.md and CAPI.md.
 *
 * Model: a context owns one network thread, one event queue and its clients.
 * The caller drives everything with dk_poll (once a frame, or a bot thread with
 * a timeout); no callback ever runs on a native thread into the host. Clients
 * are integer ids (> 0); every function returns >= 0 on success and a negative
 * DK_ERR_* code on failure, and never lets an exception out.
 */
#ifndef DIARKIS_H
#define DIARKIS_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && (defined(_M_IX86) || defined(__i386__))
#define DK_CALL __cdecl
#else
#define DK_CALL
#endif

#if defined(_WIN32)
#if defined(DK_BUILDING_LIBRARY)
#define DK_API __declspec(dllexport)
#else
#define DK_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define DK_API __attribute__((visibility("default")))
#else
#define DK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define DK_API_VERSION 1
DK_API int DK_CALL dk_api_version(void); /* DK_API_VERSION of the built library */

/* Error codes: fixed numbers, append-only; dk_error_name gives the same strings
 * as the TypeScript DiarkisError.code. */
enum {
  DK_OK = 0,
  DK_ERR_INVALID_ARGUMENT = -1,
  DK_ERR_NOT_CONNECTED = -2,
  DK_ERR_REFUSED = -3,
  DK_ERR_CONNECT_TIMEOUT = -4,
  DK_ERR_TIMEOUT = -5,
  DK_ERR_CLOSED_BY_SERVER = -6,
  DK_ERR_CLOSED_BY_USER = -7,
  DK_ERR_SERVER_SHUTDOWN = -8,
  DK_ERR_PROTOCOL_ERROR = -9,
  DK_ERR_PAYLOAD_TOO_LARGE = -10,
  DK_ERR_QUEUE_FULL = -11,
  DK_ERR_NO_TARGET = -12,
  DK_ERR_MIGRATION_FAILED = -13,
  DK_ERR_NETWORK_ERROR = -14,
  DK_ERR_INTERNAL_ERROR = -15,
  DK_ERR_KICKED = -16,
  DK_ERR_UNAUTHORIZED = -17,
  DK_ERR_ENDPOINT_UNAVAILABLE = -18,
  DK_ERR_ENDPOINT_ERROR = -19,
  DK_ERR_ADDON_UNAVAILABLE = -20,
  DK_ERR_BAD_MAC = -21,
  DK_ERR_ROOM_MIGRATION_TIMEOUT = -22,
  DK_ERR_NOT_OWNER = -23,
  DK_ERR_NOT_IN_ROOM = -24,
  DK_ERR_ALREADY_IN_ROOM = -25,
  DK_ERR_ROOM_NOT_FOUND = -26,
  DK_ERR_ROOM_FULL = -27,
  DK_ERR_ROOM_BUSY = -28,
  DK_ERR_RECEIVE_STALLED = -29
};
DK_API const char* DK_CALL dk_error_name(int code); /* static string; "unknown" for no such code */

/* One event queue, one network thread, its clients. */
typedef struct dk_context dk_context;
DK_API dk_context* DK_CALL dk_context_create(void); /* NULL on failure */
/* Destroys its clients (no event follows) and joins the network thread. Must not
 * race any other call on this context: wake and join the poller first. */
DK_API void DK_CALL dk_context_destroy(dk_context* ctx);
DK_API int DK_CALL dk_context_wake(dk_context* ctx); /* a waiting dk_poll returns 0 */

typedef struct dk_endpoint { /* the endpoint API's answer, UTF-8 strings */
  uint32_t struct_size;      /* sizeof(dk_endpoint) */
  uint16_t port;
  uint16_t reserved0;        /* 0 */
  const char* host;          /* numeric IPv4 or IPv6 (a name is DK_ERR_INVALID_ARGUMENT) */
  const char* sid_hex;       /* 32 hex digits */
  const char* key_hex;       /* "" (or NULL) for an unencrypted endpoint */
  const char* iv_hex;
  const char* mac_key_hex;
} dk_endpoint;

typedef struct dk_options {  /* zero-initialise; 0 means the default */
  uint32_t struct_size;      /* sizeof(dk_options) */
  int32_t migration;         /* 0 = auto (default), 1 = manual (dk_send_migrate on DK_EV_OFFLINE) */
  uint32_t connect_timeout_ms;
  uint32_t heartbeat_interval_ms; /* TCP heartbeat / UDP echo cadence */
  uint32_t handoff_ttl_ms;
  uint32_t high_water_mark;  /* queued bytes at which dk_send returns 1 */
  uint32_t max_queued_bytes; /* past it dk_send fails with DK_ERR_QUEUE_FULL */
  uint32_t reserved0;        /* 0 */
  const char* client_key;    /* NULL or "" = none (UDP: sent after the handshake) */
  /* Added after version 1 (read when struct_size covers them): */
  uint32_t receive_high_water_mark; /* undelivered event bytes that pause reading (default 4 MiB) */
  uint32_t max_receive_stall_ms;    /* paused this long: DK_ERR_RECEIVE_STALLED (default 60000) */
} dk_options;

enum { DK_MIGRATION_AUTO = 0, DK_MIGRATION_MANUAL = 1 };

DK_API int DK_CALL dk_tcp_create(dk_context* ctx, const dk_options* opts); /* > 0 id; < 0 error */
DK_API int DK_CALL dk_udp_create(dk_context* ctx, const dk_options* opts);
/* 0: started; DK_EV_CONNECT or DK_EV_DISCONNECT follows. < 0: error */
DK_API int DK_CALL dk_connect(dk_context* ctx, int client, const dk_endpoint* ep);
/* 0: accepted; 1: accepted, past the high-water mark (DK_EV_DRAIN follows); < 0: error */
DK_API int DK_CALL dk_send(dk_context* ctx, int client, uint8_t ver, uint16_t cmd,
                           const uint8_t* data, uint32_t len); /* UDP: unreliable */
DK_API int DK_CALL dk_rsend(dk_context* ctx, int client, uint8_t ver, uint16_t cmd,
                            const uint8_t* data, uint32_t len); /* TCP: same as dk_send */
DK_API int DK_CALL dk_send_migrate(dk_context* ctx, int client); /* 0 or < 0 */
DK_API int DK_CALL dk_close(dk_context* ctx, int client);   /* graceful: flush, FIN; DISCONNECT follows */
DK_API int DK_CALL dk_destroy(dk_context* ctx, int client); /* at once; no event follows; the id dies */
DK_API int DK_CALL dk_state(dk_context* ctx, int client);   /* >= 0: DK_STATE_*; < 0: error */

enum {
  DK_STATE_IDLE = 0,
  DK_STATE_CONNECTING = 1,
  DK_STATE_CONNECTED = 2,
  DK_STATE_MIGRATING = 3,
  DK_STATE_CLOSING = 4,
  DK_STATE_CLOSED = 5
};

typedef struct dk_stats {
  uint32_t struct_size; /* the caller sets sizeof(dk_stats) */
  uint32_t reserved0;
  uint64_t packets_sent, packets_received, bytes_sent, bytes_received;
  uint64_t retransmits, migrations, queued_bytes, dropped; /* dropped: all reasons */
  /* Added after version 1 (filled when struct_size covers them): */
  uint64_t undelivered_bytes; /* events queued for dk_poll and not yet taken */
  uint64_t receive_pauses;    /* times reading paused at receive_high_water_mark */
} dk_stats;
DK_API int DK_CALL dk_stats_get(dk_context* ctx, int client, dk_stats* out);

enum {
  DK_EV_CONNECT = 1,          /* value = 1 when it is a reconnect after a migration */
  DK_EV_DISCONNECT = 2,       /* code = reason, text = message */
  DK_EV_RESPONSE = 3,         /* ver, cmd, status, payload */
  DK_EV_PUSH = 4,             /* ver, cmd, payload */
  DK_EV_OFFLINE = 5,
  DK_EV_MIGRATED = 6,         /* text = "<from host:port> <to host:port>", value = took ms */
  DK_EV_MIGRATION_FAILED = 7, /* code = NO_TARGET or MIGRATION_FAILED; DK_EV_UNSENT follow */
  DK_EV_HEARTBEAT = 8,        /* TCP; value = rtt ms */
  DK_EV_ECHO = 9,             /* UDP; value = rtt ms, text = public address */
  DK_EV_DRAIN = 10,
  DK_EV_ERROR = 11,           /* non-fatal (a dropped bad packet); code, text */
  DK_EV_UNSENT = 12,          /* a held send handed back after MIGRATION_FAILED or a close:
                                 ver, cmd, payload; status = 1 for a reliable send */
  /* Rooms (dk_room_*). An answer to a request has code 0, or the DK_ERR_* of its refusal
   * (then its strings are NULL). Ids and uids are UTF-8 in text/text2. "owner": status = 1
   * when this client is the room's owner (after the event), else 0. */
  DK_EV_ROOM_CREATED = 13,      /* dk_room_create: text = room id, text2 = owner (this client's
                                   uid); owner */
  DK_EV_ROOM_JOINED = 14,       /* dk_room_join: text = room id, text2 = owner, value = members,
                                   payload = {"roomId","ownerId","members":[...],"props":{...}} JSON
                                   (members in join order), owner */
  DK_EV_ROOM_LEFT = 15,         /* out of the room: status = DK_ROOM_LEFT_*, text = the room id;
                                   code = DK_ERR_ROOM_MIGRATION_TIMEOUT for that reason; a refused
                                   dk_room_leave: status = DK_ROOM_LEFT_LEAVE, code < 0 */
  DK_EV_ROOM_INFO = 16,         /* dk_room_info: as DK_EV_ROOM_JOINED */
  DK_EV_ROOM_PROPS = 17,        /* payload = the room's merged props (JSON object), text = room id;
                                   status = 1: the answer to dk_room_set_props (code < 0: refused),
                                   0: a member set them (every member, the setter too) */
  DK_EV_ROOM_MEMBER_JOIN = 18,  /* text = uid */
  DK_EV_ROOM_MEMBER_LEAVE = 19, /* text = uid */
  DK_EV_ROOM_MESSAGE = 20,      /* a member's broadcast: text = its uid, payload = the bytes */
  DK_EV_ROOM_OWNER_CHANGE = 21, /* text = the new owner's uid; owner */
  DK_EV_ROOM_MIGRATED = 22      /* every member, once per move: text = new room id, text2 = old
                                   room id, owner; a refused dk_room_migrate: code < 0 */
};

enum { /* dk_event.status of DK_EV_ROOM_LEFT */
  DK_ROOM_LEFT_LEAVE = 0,             /* the answer to dk_room_leave */
  DK_ROOM_LEFT_REMOVED = 1,           /* the room removed this client */
  DK_ROOM_LEFT_MIGRATION_TIMEOUT = 2  /* automatic mode: the room did not move this client within
                                         the handoff TTL; it migrated alone and left the room */
};

typedef struct dk_event {    /* 64 bytes on every supported 64-bit platform */
  int32_t client;            /*  0 */
  int32_t type;              /*  4: DK_EV_* */
  int32_t code;              /*  8: 0 or a DK_ERR_* */
  uint8_t ver;               /* 12 */
  uint8_t status;            /* 13 */
  uint16_t cmd;              /* 14 */
  uint32_t len;              /* 16: payload bytes */
  uint32_t reserved0;        /* 20 */
  double value;              /* 24 */
  const uint8_t* payload;    /* 32: valid until the next dk_poll on this context */
  const char* text;          /* 40 (36 on 32-bit): UTF-8, NUL-terminated or NULL; same lifetime */
  const char* text2;         /* 48 (40 on 32-bit): a second string (rooms), same rules */
  uint8_t reserved[16 - sizeof(const char*)]; /* zero; to 64 bytes (56 on 32-bit) */
} dk_event;

/* Copies up to max events into out, waiting up to timeout_ms (0 = do not wait,
 * -1 = until an event or dk_context_wake) for the first one. Returns the count,
 * or < 0 on error. One thread at a time per context. */
DK_API int DK_CALL dk_poll(dk_context* ctx, dk_event* out, int max, int timeout_ms);

/* Rooms (PROTOCOL section 10): a client is in one room at most; the room follows
 * it across migrations under a new id (DK_EV_ROOM_MIGRATED). Requests return 0 when
 * sent (< 0: not sent, e.g. DK_ERR_NOT_CONNECTED) and are answered by a DK_EV_ROOM_*
 * event. Props are a JSON object as UTF-8 text ("{\"map\":\"dunes\"}"); NULL = {}.
 * Automatic mode: on DK_EV_OFFLINE the owner's client moves its room by itself, and
 * a member waits for its room to move it. Manual mode: the owner calls
 * dk_room_migrate on DK_EV_OFFLINE; the other members are moved by the node. */
DK_API int DK_CALL dk_room_create(dk_context* ctx, int client, uint32_t max_members,
                                  const char* props_json);           /* DK_EV_ROOM_CREATED */
DK_API int DK_CALL dk_room_join(dk_context* ctx, int client, const char* room_id); /* .._JOINED */
DK_API int DK_CALL dk_room_leave(dk_context* ctx, int client);       /* DK_EV_ROOM_LEFT */
DK_API int DK_CALL dk_room_info(dk_context* ctx, int client);        /* DK_EV_ROOM_INFO */
DK_API int DK_CALL dk_room_set_props(dk_context* ctx, int client, const char* props_json);
/* To every other member: 0 or 1 as dk_rsend; DK_ERR_NOT_IN_ROOM outside a room (as this
 * client knows it: after the DK_EV_ROOM_CREATED/JOINED answer). Unreliable: one datagram
 * on UDP (may be lost), the same as reliable on TCP. */
DK_API int DK_CALL dk_room_broadcast(dk_context* ctx, int client, const uint8_t* data, uint32_t len);
DK_API int DK_CALL dk_room_broadcast_unreliable(dk_context* ctx, int client, const uint8_t* data,
                                                uint32_t len);
/* The owner moves its room off its OFFLINE node: DK_EV_ROOM_MIGRATED follows (code < 0:
 * refused, e.g. DK_ERR_NOT_OWNER). DK_ERR_NOT_IN_ROOM outside a room. */
DK_API int DK_CALL dk_room_migrate(dk_context* ctx, int client);

#ifdef __cplusplus
} /* extern "C" */
#endif

/* The layouts are the contract: a change here is a compile error, not a silent
 * break of every engine binding. */
#if defined(__cplusplus)
#define DK_STATIC_ASSERT static_assert
#else
#define DK_STATIC_ASSERT _Static_assert
#endif
DK_STATIC_ASSERT(offsetof(dk_event, client) == 0, "dk_event.client");
DK_STATIC_ASSERT(offsetof(dk_event, type) == 4, "dk_event.type");
DK_STATIC_ASSERT(offsetof(dk_event, code) == 8, "dk_event.code");
DK_STATIC_ASSERT(offsetof(dk_event, ver) == 12, "dk_event.ver");
DK_STATIC_ASSERT(offsetof(dk_event, status) == 13, "dk_event.status");
DK_STATIC_ASSERT(offsetof(dk_event, cmd) == 14, "dk_event.cmd");
DK_STATIC_ASSERT(offsetof(dk_event, len) == 16, "dk_event.len");
DK_STATIC_ASSERT(offsetof(dk_event, value) == 24, "dk_event.value");
DK_STATIC_ASSERT(offsetof(dk_event, payload) == 32, "dk_event.payload");
DK_STATIC_ASSERT(offsetof(dk_event, reserved0) == 20, "dk_event.reserved0");
#if UINTPTR_MAX > 0xFFFFFFFFu
DK_STATIC_ASSERT(offsetof(dk_event, text) == 40, "dk_event.text");
DK_STATIC_ASSERT(offsetof(dk_event, text2) == 48, "dk_event.text2");
DK_STATIC_ASSERT(sizeof(dk_event) == 64, "dk_event is 64 bytes on 64-bit targets");
DK_STATIC_ASSERT(offsetof(dk_endpoint, host) == 8, "dk_endpoint.host");
DK_STATIC_ASSERT(offsetof(dk_endpoint, mac_key_hex) == 40, "dk_endpoint.mac_key_hex");
DK_STATIC_ASSERT(sizeof(dk_endpoint) == 48, "dk_endpoint");
DK_STATIC_ASSERT(offsetof(dk_options, client_key) == 32, "dk_options.client_key");
DK_STATIC_ASSERT(offsetof(dk_options, receive_high_water_mark) == 40, "dk_options.receive_high_water_mark");
DK_STATIC_ASSERT(sizeof(dk_options) == 48, "dk_options");
#elif UINTPTR_MAX == 0xFFFFFFFFu /* 32-bit: checked by scripts/abi-check.sh (clang, several targets) */
DK_STATIC_ASSERT(offsetof(dk_event, text) == 36, "dk_event.text (32-bit)");
DK_STATIC_ASSERT(offsetof(dk_event, text2) == 40, "dk_event.text2 (32-bit)");
DK_STATIC_ASSERT(sizeof(dk_event) == 56, "dk_event is 56 bytes on 32-bit targets");
DK_STATIC_ASSERT(offsetof(dk_endpoint, host) == 8, "dk_endpoint.host (32-bit)");
DK_STATIC_ASSERT(offsetof(dk_endpoint, mac_key_hex) == 24, "dk_endpoint.mac_key_hex (32-bit)");
DK_STATIC_ASSERT(sizeof(dk_endpoint) == 28, "dk_endpoint (32-bit)");
DK_STATIC_ASSERT(offsetof(dk_options, client_key) == 32, "dk_options.client_key (32-bit)");
DK_STATIC_ASSERT(offsetof(dk_options, receive_high_water_mark) == 36, "dk_options.receive_high_water_mark (32-bit)");
DK_STATIC_ASSERT(sizeof(dk_options) == 44, "dk_options (32-bit)");
#endif
DK_STATIC_ASSERT(offsetof(dk_stats, packets_sent) == 8, "dk_stats.packets_sent");
DK_STATIC_ASSERT(sizeof(dk_stats) == 88, "dk_stats");
#undef DK_STATIC_ASSERT

#endif /* DIARKIS_H */
