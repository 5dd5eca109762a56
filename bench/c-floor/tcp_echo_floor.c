/*
 * The C floor of bench/tcp-throughput: a one-thread Diarkis TCP client in plain C
 * with OpenSSL, as lean as the protocol allows (one socket, blocking I/O, one
 * write per batch of requests, cipher and MAC contexts reused). It connects,
 * answers nothing but echo (2/1) with `depth` requests in flight, and prints
 * its own CPU time per message as JSON.
 *
 *   tcp_echo_floor <host> <port> <sid> <key> <iv> <macKey> <depth> <messages> <warmup>
 *
 * Keys are 32 hex characters. Built by the bench (cc -O2 ... -lcrypto).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/* The anchor of earlier sessions: its crypto as it was measured. -DFLOOR_LEAN_CRYPTO builds
 * the c-floor-lean row instead (floor_common.h's default: the native client's own way). */
#ifndef FLOOR_LEAN_CRYPTO
#define FLOOR_EVP_CRYPTO
#endif
#include "floor_common.h"

enum { kBody = 64 };

static int fd;
static unsigned char rbuf[1 << 16];
static size_t rlen;

static void write_all(const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) die("send");
    p += w;
    n -= (size_t)w;
  }
}

/* Reads once; returns how many echo answers completed (heartbeat answers count too). */
static int read_answers(void) {
  ssize_t r = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
  if (r <= 0) die("recv: the server closed");
  rlen += (size_t)r;
  int done = 0;
  size_t off = 0;
  while (rlen - off >= kResHeader) {
    const unsigned char *h = rbuf + off;
    const size_t len = ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | h[7];
    if (rlen - off < kResHeader + len) break;
    if (h[0] != 0xFE || h[1] != 0xBE) die("bad magic");
    if (h[4] != 2 || h[8] != 0 || h[9] != 1) {  /* not an echo answer: a heartbeat answer or a push */
      if (h[4] != 0) {
        fprintf(stderr, "unexpected packet ver %u cmd %u status %u len %zu\n", h[4], (h[8] << 8) | h[9], h[10], len);
        die("unexpected packet");
      }
    }
    static unsigned char plain[2048];
    open_secure(h + kResHeader, len, plain);
    off += kResHeader + len;
    done++;
  }
  memmove(rbuf, rbuf + off, rlen - off);
  rlen -= off;
  return done;
}

/* `messages` echo requests, `depth` in flight; one write per read's worth of answers. */
static void run(int depth, long messages) {
  static unsigned char out[1 << 16];
  unsigned char body[kBody];
  memset(body, 7, sizeof body);
  long sent = 0, answered = 0;
  size_t o = 0;
  for (; sent < messages && sent < depth; sent++) o += encode(out + o, 2, 1, body, sizeof body);
  write_all(out, o);
  while (answered < messages) {
    const int n = read_answers();
    answered += n;
    o = 0;
    for (int i = 0; i < n && sent < messages; i++, sent++) o += encode(out + o, 2, 1, body, sizeof body);
    if (o > 0) write_all(out, o);
  }
}

int main(int argc, char **argv) {
  if (argc != 10) die("usage: tcp_echo_floor host port sid key iv macKey depth messages warmup");
  floor_name = "tcp_echo_floor";
  floor_keys(argv + 3);
  const int depth = atoi(argv[7]);
  const long messages = atol(argv[8]), warmup = atol(argv[9]);
  if (depth < 1 || depth > 256 || messages < 1) die("depth 1..256, messages >= 1");

  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) die("host must be numeric IPv4");
  fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");

  /* The first request is a heartbeat (PROTOCOL section 3). */
  unsigned char hb[128], ts[8];
  const double now = wall_s() * 1000;
  memcpy(ts, &now, 8);
  write_all(hb, encode(hb, 0, 1, ts, 8));
  while (read_answers() == 0) {
  }

  if (warmup > 0) run(depth, warmup);
  const double c0 = cpu_us(), t0 = wall_s();
  run(depth, messages);
  const double cpu = cpu_us() - c0, secs = wall_s() - t0;
  printf("{\"messages\":%ld,\"seconds\":%.6f,\"cpuUs\":%.4f}\n", messages, secs, cpu / (double)messages);
  close(fd);
  return 0;
}
