/* The C ABI's smoke test: C11, only diarkis.h. Run by test/engines/run.mjs
 * against the reference cluster started by the CLI:
 *
 *   smoke <tcp|udp> <manual|auto> <host> <port> <sid> <key> <iv> <mac>
 *   smoke rooms ..., smoke rooms-fallback ...   the room scenarios (rooms.c)
 *
 * First the negative cases of CAPI.md (no network needed), then the scenario:
 * connect, request/response, a push, the counter, the offline notice (the runner
 * takes the node offline when we print AWAIT-OFFLINE), dk_send_migrate (manual),
 * DK_EV_MIGRATED, the counter kept (2/2), (manual) a migration with no target
 * left, graceful close. Prints PASS at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h> /* mingw-w64 has no C11 <threads.h>: the one helper thread on Win32 */
#else
#include <threads.h>
#endif

#include "diarkis.h"
#include "engines_test.h"

#define WAIT_MS 20000

int failures = 0;

/* ---- events: one batch at a time, read through a cursor ---- */

static dk_event batch[16];
static int batch_n = 0, batch_i = 0;
static int reconnects = 0; /* DK_EV_CONNECT with value 1 seen */

static const dk_event* next_event(dk_context* ctx) {
  while (batch_i >= batch_n) {
    batch_n = dk_poll(ctx, batch, 16, WAIT_MS);
    batch_i = 0;
    REQUIRE(batch_n > 0); /* nothing within WAIT_MS, or an error */
  }
  return &batch[batch_i++];
}

/* The next event of `type` for `client`; liveness events are skipped, anything
 * else unexpected fails. */
static const dk_event* expect_event(dk_context* ctx, int client, int type) {
  for (;;) {
    const dk_event* ev = next_event(ctx);
    REQUIRE(ev->client == client);
    if (ev->type == type) return ev;
    switch (ev->type) {
      case DK_EV_HEARTBEAT:
      case DK_EV_ECHO:
      case DK_EV_DRAIN:
        continue;
      case DK_EV_CONNECT:
        if (ev->value == 1) {
          ++reconnects;
          continue;
        }
        break;
      default:
        break;
    }
    fprintf(stderr, "unexpected event %d (code %s, text %s) waiting for %d\n", ev->type, dk_error_name(ev->code),
            ev->text ? ev->text : "-", type);
    exit(1);
  }
}

static uint32_t be32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint32_t counter(dk_context* ctx, int id) {
  CHECK(dk_rsend(ctx, id, 2, 2, NULL, 0) == 0);
  const dk_event* ev = expect_event(ctx, id, DK_EV_RESPONSE);
  REQUIRE(ev->cmd == 2 && ev->status == 1 && ev->len == 4 && ev->payload != NULL);
  return be32(ev->payload);
}

/* ---- the negative cases ---- */

/* A thread that wakes a waiting dk_poll after 50 ms; waker_join gives its dk_context_wake result. */
#ifdef _WIN32
typedef HANDLE waker_t;
static DWORD WINAPI wake_later(LPVOID arg) {
  Sleep(50);
  return (DWORD)(dk_context_wake((dk_context*)arg) == 0 ? 0 : 1);
}
static int waker_start(waker_t* t, dk_context* ctx) { return (*t = CreateThread(NULL, 0, wake_later, ctx, 0, NULL)) != NULL; }
static int waker_join(waker_t t) {
  DWORD rc = 1;
  WaitForSingleObject(t, INFINITE);
  GetExitCodeThread(t, &rc);
  CloseHandle(t);
  return (int)rc;
}
#else
typedef thrd_t waker_t;
static int wake_later(void* arg) {
  thrd_sleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
  return dk_context_wake((dk_context*)arg);
}
static int waker_start(waker_t* t, dk_context* ctx) { return thrd_create(t, wake_later, ctx) == thrd_success; }
static int waker_join(waker_t t) {
  int rc = -1;
  thrd_join(t, &rc);
  return rc;
}
#endif

static void negative_cases(void) {
  CHECK(dk_api_version() == DK_API_VERSION);
  CHECK(strcmp(dk_error_name(DK_OK), "none") == 0);
  CHECK(strcmp(dk_error_name(DK_ERR_CONNECT_TIMEOUT), "connect-timeout") == 0);
  CHECK(strcmp(dk_error_name(DK_ERR_BAD_MAC), "bad-mac") == 0);
  CHECK(strcmp(dk_error_name(1), "unknown") == 0);
  CHECK(strcmp(dk_error_name(DK_ERR_ROOM_BUSY), "room-busy") == 0);
  CHECK(strcmp(dk_error_name(DK_ERR_RECEIVE_STALLED), "receive-stalled") == 0);
  CHECK(strcmp(dk_error_name(DK_ERR_RECEIVE_STALLED - 1), "unknown") == 0); /* the last code */

  /* NULL context everywhere */
  dk_event ev[4];
  dk_stats st = {.struct_size = sizeof(dk_stats)};
  CHECK(dk_tcp_create(NULL, NULL) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_udp_create(NULL, NULL) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_connect(NULL, 1, NULL) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_send(NULL, 1, 2, 1, NULL, 0) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_rsend(NULL, 1, 2, 1, NULL, 0) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_send_migrate(NULL, 1) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_close(NULL, 1) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_destroy(NULL, 1) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_state(NULL, 1) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_stats_get(NULL, 1, &st) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_poll(NULL, ev, 4, 0) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_context_wake(NULL) == DK_ERR_INVALID_ARGUMENT);
  dk_context_destroy(NULL);

  dk_context* ctx = dk_context_create();
  REQUIRE(ctx != NULL);
  /* bad ids */
  CHECK(dk_state(ctx, 0) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_state(ctx, -5) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_state(ctx, 12345) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_send(ctx, 12345, 2, 1, NULL, 0) == DK_ERR_INVALID_ARGUMENT);
  /* bad structs and arguments */
  dk_options small = {.struct_size = 4};
  CHECK(dk_tcp_create(ctx, &small) == DK_ERR_INVALID_ARGUMENT);
  dk_options badmode = {.struct_size = sizeof(dk_options), .migration = 7};
  CHECK(dk_udp_create(ctx, &badmode) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_poll(ctx, NULL, 4, 0) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_poll(ctx, ev, 0, 0) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_poll(ctx, ev, 4, -2) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_poll(ctx, ev, 4, 0) == 0);

  int tcp = dk_tcp_create(ctx, NULL);
  int udp = dk_udp_create(ctx, NULL);
  CHECK(tcp > 0 && udp > 0 && tcp != udp);
  CHECK(dk_state(ctx, tcp) == DK_STATE_IDLE);
  CHECK(dk_connect(ctx, tcp, NULL) == DK_ERR_INVALID_ARGUMENT);
  dk_endpoint ep = {.struct_size = sizeof(dk_endpoint), .port = 9, .host = "localhost",
                    .sid_hex = "00112233445566778899aabbccddeeff", .key_hex = "", .iv_hex = "", .mac_key_hex = ""};
  CHECK(dk_connect(ctx, tcp, &ep) == DK_ERR_INVALID_ARGUMENT); /* a name, not a numeric address */
  ep.host = "127.0.0.1";
  ep.sid_hex = "not hex";
  CHECK(dk_connect(ctx, tcp, &ep) == DK_ERR_INVALID_ARGUMENT);
  ep.sid_hex = "00112233445566778899aabbccddeeff";
  ep.key_hex = "00112233445566778899aabbccddeeff"; /* a key without iv and mac key */
  CHECK(dk_connect(ctx, tcp, &ep) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_send(ctx, tcp, 2, 1, NULL, 5) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_send(ctx, udp, 2, 1, (const uint8_t*)"x", 1) == DK_ERR_NOT_CONNECTED); /* unreliable needs a link */
  CHECK(dk_send_migrate(ctx, tcp) == DK_ERR_NOT_CONNECTED);
  dk_stats tiny = {.struct_size = 8};
  CHECK(dk_stats_get(ctx, tcp, &tiny) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_stats_get(ctx, tcp, &st) == 0 && st.packets_sent == 0);

  /* a destroyed client: its id is dead and not handed out again */
  CHECK(dk_destroy(ctx, udp) == 0);
  CHECK(dk_destroy(ctx, udp) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_state(ctx, udp) == DK_ERR_INVALID_ARGUMENT);
  CHECK(dk_rsend(ctx, udp, 2, 1, NULL, 0) == DK_ERR_INVALID_ARGUMENT);
  int again = dk_udp_create(ctx, NULL);
  CHECK(again > 0 && again != udp && again != tcp);

  /* a wake of a waiting poll */
  waker_t waker;
  REQUIRE(waker_start(&waker, ctx));
  CHECK(dk_poll(ctx, ev, 4, -1) == 0);
  CHECK(waker_join(waker) == 0);

  /* a context destroyed with clients open, one of them connecting */
  ep.key_hex = "";
  ep.port = 9; /* discard: nothing listens on loopback */
  CHECK(dk_connect(ctx, tcp, &ep) == 0);
  dk_context_destroy(ctx);
}

/* ---- the scenario ---- */

static void scenario(int udp, int manual, const dk_endpoint* ep) {
  dk_context* ctx = dk_context_create();
  REQUIRE(ctx != NULL);
  dk_options opts = {.struct_size = sizeof(dk_options), .migration = manual ? DK_MIGRATION_MANUAL : DK_MIGRATION_AUTO};
  int id = udp ? dk_udp_create(ctx, &opts) : dk_tcp_create(ctx, &opts);
  REQUIRE(id > 0);
  REQUIRE(dk_connect(ctx, id, ep) == 0);
  CHECK(dk_connect(ctx, id, ep) == DK_ERR_NOT_CONNECTED); /* a client connects once */
  const dk_event* ev = expect_event(ctx, id, DK_EV_CONNECT);
  CHECK(ev->value == 0);
  CHECK(dk_state(ctx, id) == DK_STATE_CONNECTED);

  static const uint8_t hello[] = "hello";
  CHECK(dk_rsend(ctx, id, 2, 1, hello, 5) == 0);
  ev = expect_event(ctx, id, DK_EV_RESPONSE);
  CHECK(ev->ver == 2 && ev->cmd == 1 && ev->status == 1 && ev->len == 5 && memcmp(ev->payload, hello, 5) == 0);

  CHECK(dk_rsend(ctx, id, 2, 3, (const uint8_t*)"pp", 2) == 0);
  ev = expect_event(ctx, id, DK_EV_PUSH);
  CHECK(ev->ver == 2 && ev->cmd == 3 && ev->len == 2 && memcmp(ev->payload, "pp", 2) == 0);
  expect_event(ctx, id, DK_EV_RESPONSE);

  CHECK(counter(ctx, id) == 1);

  printf("AWAIT-OFFLINE %u\n", (unsigned)ep->port);
  fflush(stdout);
  expect_event(ctx, id, DK_EV_OFFLINE);
  if (manual) CHECK(dk_send_migrate(ctx, id) == 0);
  ev = expect_event(ctx, id, DK_EV_MIGRATED);
  CHECK(ev->text != NULL && ev->value >= 0);
  printf("migrated %s in %.1f ms\n", ev->text ? ev->text : "?", ev->value);
  CHECK(dk_state(ctx, id) == DK_STATE_CONNECTED);
  CHECK(counter(ctx, id) == 2); /* the session's data moved with it: 2/2 */
  CHECK(reconnects == 1);

  dk_stats st = {.struct_size = sizeof(dk_stats)};
  CHECK(dk_stats_get(ctx, id, &st) == 0);
  CHECK(st.migrations == 1 && st.packets_sent > 0 && st.bytes_received > 0);

  if (manual) {
    /* No node left to take the session (the runner takes every node of this type
     * offline): DK_EV_MIGRATION_FAILED(NO_TARGET), the session stays, and the send
     * held during the attempt goes to the old node. */
    printf("AWAIT-OFFLINE-ALL %u\n", (unsigned)ep->port);
    fflush(stdout);
    expect_event(ctx, id, DK_EV_OFFLINE);
    CHECK(dk_send_migrate(ctx, id) == 0);
    CHECK(dk_rsend(ctx, id, 2, 2, NULL, 0) == 0); /* held until the migration ends */
    ev = expect_event(ctx, id, DK_EV_MIGRATION_FAILED);
    CHECK(ev->code == DK_ERR_NO_TARGET);
    ev = expect_event(ctx, id, DK_EV_RESPONSE);
    CHECK(ev->cmd == 2 && ev->len == 4 && be32(ev->payload) == 3);
    CHECK(dk_state(ctx, id) == DK_STATE_CONNECTED);
  }

  CHECK(dk_close(ctx, id) == 0);
  ev = expect_event(ctx, id, DK_EV_DISCONNECT);
  CHECK(ev->code == DK_ERR_CLOSED_BY_USER);
  CHECK(dk_state(ctx, id) == DK_STATE_CLOSED); /* the id lives until dk_destroy */
  CHECK(dk_rsend(ctx, id, 2, 1, hello, 5) == DK_ERR_NOT_CONNECTED);
  CHECK(dk_destroy(ctx, id) == 0);
  CHECK(dk_state(ctx, id) == DK_ERR_INVALID_ARGUMENT);
  dk_context_destroy(ctx);
}

int main(int argc, char** argv) {
  if (argc > 1 && strncmp(argv[1], "rooms", 5) == 0) return rooms_main(argc - 1, argv + 1);
  if (argc != 9) {
    fprintf(stderr, "usage: %s <tcp|udp> <manual|auto> <host> <port> <sid> <key> <iv> <mac>\n", argv[0]);
    return 2;
  }
  negative_cases();
  dk_endpoint ep = {.struct_size = sizeof(dk_endpoint), .port = (uint16_t)atoi(argv[4]), .host = argv[3],
                    .sid_hex = argv[5], .key_hex = argv[6], .iv_hex = argv[7], .mac_key_hex = argv[8]};
  scenario(strcmp(argv[1], "udp") == 0, strcmp(argv[2], "manual") == 0, &ep);
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("PASS %s %s\n", argv[1], argv[2]);
  return 0;
}
