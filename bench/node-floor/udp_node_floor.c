/*
 * The Node floors of bench/udp's CPU table: the C floor's RUDP client (bench/c-floor/
 * udp_floor_rudp.h, the same code) with its socket watched by a uv_poll_t on Node's own loop
 * instead of blocking in recvmmsg. A wake-up reads everything readable (recvmmsg with
 * MSG_DONTWAIT until a short batch, as the native client reads on its loop), handles every
 * datagram as the C floor does (ACK records owed, ACKs of our DATs, answers checked), makes ONE
 * JS call with the number of answers (napi_make_callback: promise continuations run before it
 * returns, as for the real addon), and sends the ACK records the JS call's send() did not carry.
 *
 *   open(host, port, sid, key, iv, macKey, onAnswers) -> undefined  (hex keys; the handshake is
 *        blocking, then the poll starts)
 *   setPacket(request, answer)  the floor without crypto: every request is that prepared packet,
 *        every answer is compared byte for byte with `answer` (no OpenSSL call per message)
 *   send(k)   k more echo requests, packed into DATs with the owed ACK records, one sendmmsg
 *   datagrams() -> [sent, received, wake-ups] so far
 *   close()   stops the poll, then (blocking) waits for the ACKs of our DATs and the FIN's answer
 *
 * Without setPacket it is the crypto floor: the C floor's per-message OpenSSL work (every request
 * sealed with its own body, every answer MAC-checked, decrypted and compared with its request).
 * A wrong answer, a gap in the server's sequence or a server FIN ends the process with exit
 * code 1 and the reason on stderr, as the C floor does. Bench only (built by
 * bench/lib/node-floor.ts against Node's own headers), never in the package.
 */
#define _GNU_SOURCE
#include <fcntl.h>

#include "../c-floor/udp_floor_rudp.h"
#include "floor_addon.h"

static unsigned char *packet_copy, *answer_copy;
static uint64_t wakeups; /* on_readable calls: each is one epoll return with this socket in it */

/* Everything readable: recvmmsg(MSG_DONTWAIT) until a batch comes back short or EAGAIN. */
static void read_ready(void) {
  for (;;) {
    const int n = recvmmsg(fd, rmsg, kBatch, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      die("recvmmsg");
    }
    for (int i = 0; i < n; i++) on_datagram(rbuf[i], rmsg[i].msg_len);
    if (n < kBatch) return;
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)events;
  if (status < 0) die("poll");
  wakeups++;
  const uint64_t before = answered;
  read_ready();
  owed = 0; /* JavaScript decides what to send (send(k)), not the answers */
  if (answered != before) floor_call_js((int32_t)(answered - before));
  owed = 0;
  flush(); /* the ACK records no send() carried; no system call when there are none */
}

static int hex_arg(napi_env env, napi_value v, char out[40]) {
  size_t len = 0;
  return napi_get_value_string_utf8(env, v, out, 40, &len) == napi_ok && len == 32;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char host[64], keys[4][40];
  char *key_args[4] = {keys[0], keys[1], keys[2], keys[3]};
  size_t hl = 0;
  int32_t port = 0;
  napi_valuetype cb_type = napi_undefined;
  if (argc != 7 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hl) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || !hex_arg(env, argv[2], keys[0]) ||
      !hex_arg(env, argv[3], keys[1]) || !hex_arg(env, argv[4], keys[2]) || !hex_arg(env, argv[5], keys[3]) ||
      napi_typeof(env, argv[6], &cb_type) != napi_ok || cb_type != napi_function) {
    return throw_error(env, "open(host, port, sid, key, iv, macKey, onAnswers): 32-hex-digit keys");
  }
  if (polling || finSent) return throw_error(env, "one connection per process");
  floor_name = "udp_node_floor";
  floor_keys(key_args);
  floor_udp_init();
  connect_to(host, port);
  handshake();
  if (floor_watch(env, fd, argv[6], "udp-node-floor", on_readable) != 0) return throw_error(env, "cannot watch the socket");
  /* uv_poll_init made the socket non-blocking: sends block again when the send buffer is full (as
   * the C floor's; e.g. under valgrind), reads stay non-blocking (MSG_DONTWAIT). */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return NULL;
}

static int buffer_arg(napi_env env, napi_value v, unsigned char **copy, size_t *len) {
  bool is = false;
  void *data = NULL;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is || napi_get_buffer_info(env, v, &data, len) != napi_ok || *len == 0) return 0;
  free(*copy);
  *copy = malloc(*len);
  if (*copy == NULL) return 0;
  memcpy(*copy, data, *len);
  return 1;
}

static napi_value SetPacket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  size_t plen = 0, alen = 0;
  if (argc != 2 || !buffer_arg(env, argv[0], &packet_copy, &plen) || !buffer_arg(env, argv[1], &answer_copy, &alen) ||
      plen != kRequest || alen < kResHeader) {
    return throw_error(env, "setPacket(request, answer): Buffers, the request a sealed 64-byte echo");
  }
  floor_packet = packet_copy;
  floor_answer = answer_copy;
  floor_answer_len = alen;
  return NULL;
}

static napi_value Send(napi_env env, napi_callback_info info) {
  int32_t k = 0;
  if (!floor_int_arg(env, info, 1, 4096, &k) || !polling) {
    return throw_error(env, "send(k): 1..4096, after open");
  }
  owed = (uint64_t)k;
  flush();
  if (owed != 0) return throw_error(env, "the send window is full");
  return NULL;
}

/* [datagrams sent, datagrams received, wake-ups] so far (bench/udp's per-message columns). */
static napi_value Datagrams(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, v;
  const double counts[3] = {(double)dgramsSent, (double)dgramsRecv, (double)wakeups};
  if (napi_create_array_with_length(env, 3, &out) != napi_ok) return NULL;
  for (uint32_t i = 0; i < 3; i++) {
    if (napi_create_double(env, counts[i], &v) != napi_ok || napi_set_element(env, out, i, v) != napi_ok) return NULL;
  }
  return out;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  (void)info;
  if (!polling) return NULL;
  floor_unwatch(env);
  /* The C floor's end (blocking, its 5 s receive timeout): our DATs acknowledged, FIN answered. */
  owed = 0;
  finish();
  close(fd);
  return NULL;
}

NAPI_MODULE_INIT() {
  static const floor_export list[] = {{"open", Open}, {"setPacket", SetPacket}, {"send", Send}, {"datagrams", Datagrams}, {"close", Close}};
  return floor_exports(env, exports, list, sizeof list / sizeof list[0]);
}
