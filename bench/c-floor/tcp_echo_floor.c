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
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { kReqHeader = 10, kResHeader = 11, kSid = 16, kMac = 32, kBody = 64 };

static unsigned char sid[16], key[16], iv[16], macKey[16];
static EVP_CIPHER_CTX *enc, *dec;
static EVP_MAC_CTX *mac;

static void die(const char *what) {
  fprintf(stderr, "tcp_echo_floor: %s\n", what);
  exit(1);
}

static void hex16(const char *s, unsigned char *out) {
  if (strlen(s) != 32) die("keys must be 32 hex characters");
  for (int i = 0; i < 16; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1) die("bad hex");
    out[i] = (unsigned char)v;
  }
}

static void hmac(const unsigned char *c, size_t n, unsigned char out[kMac]) {
  size_t len = 0;
  if (!EVP_MAC_init(mac, NULL, 0, NULL) || !EVP_MAC_update(mac, c, n) || !EVP_MAC_final(mac, out, &len, kMac)) {
    die("hmac");
  }
}

/* header || SID || u32 plen || HMAC || AES-128-CBC(zeroPad(body)); returns the length. */
static size_t encode(unsigned char *out, uint8_t ver, uint16_t cmd, const unsigned char *body, size_t n) {
  const size_t padded = n + (16 - n % 16);
  unsigned char plain[1024];
  memset(plain, 0, padded);
  memcpy(plain, body, n);
  unsigned char *c = out + kReqHeader + kSid + 4 + kMac;
  int outl = 0;
  if (!EVP_EncryptInit_ex(enc, NULL, NULL, NULL, iv) || !EVP_EncryptUpdate(enc, c, &outl, plain, (int)padded)) die("aes");
  const size_t len = kSid + 4 + kMac + padded;
  memcpy(out, "\xFE\xBE\xDE\xEF", 4);
  out[4] = ver;
  out[5] = (unsigned char)(len >> 16);
  out[6] = (unsigned char)(len >> 8);
  out[7] = (unsigned char)len;
  out[8] = (unsigned char)(cmd >> 8);
  out[9] = (unsigned char)cmd;
  memcpy(out + kReqHeader, sid, kSid);
  unsigned char *s = out + kReqHeader + kSid;
  s[0] = (unsigned char)(n >> 24);
  s[1] = (unsigned char)(n >> 16);
  s[2] = (unsigned char)(n >> 8);
  s[3] = (unsigned char)n;
  hmac(c, padded, s + 4);
  return kReqHeader + len;
}

/* Verifies and decrypts one response payload (secure(body)); returns the status or dies. */
static void open_secure(const unsigned char *p, size_t n) {
  unsigned char want[kMac], plain[2048];
  if (n < 4 + kMac + 16 || (n - 4 - kMac) % 16 != 0 || n - 4 - kMac > sizeof plain) {
    fprintf(stderr, "len %zu\n", n);
    die("bad secure");
  }
  hmac(p + 4 + kMac, n - 4 - kMac, want);
  if (CRYPTO_memcmp(want, p + 4, kMac) != 0) die("bad mac");
  int outl = 0;
  if (!EVP_DecryptInit_ex(dec, NULL, NULL, NULL, iv) ||
      !EVP_DecryptUpdate(dec, plain, &outl, p + 4 + kMac, (int)(n - 4 - kMac))) {
    die("aes");
  }
}

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
    open_secure(h + kResHeader, len);
    off += kResHeader + len;
    done++;
  }
  memmove(rbuf, rbuf + off, rlen - off);
  rlen -= off;
  return done;
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
  hex16(argv[3], sid);
  hex16(argv[4], key);
  hex16(argv[5], iv);
  hex16(argv[6], macKey);
  const int depth = atoi(argv[7]);
  const long messages = atol(argv[8]), warmup = atol(argv[9]);
  if (depth < 1 || depth > 256 || messages < 1) die("depth 1..256, messages >= 1");

  enc = EVP_CIPHER_CTX_new();
  dec = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(enc, EVP_aes_128_cbc(), NULL, key, iv);
  EVP_DecryptInit_ex(dec, EVP_aes_128_cbc(), NULL, key, iv);
  EVP_CIPHER_CTX_set_padding(enc, 0);
  EVP_CIPHER_CTX_set_padding(dec, 0);
  EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
  mac = EVP_MAC_CTX_new(m);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end()};
  if (!EVP_MAC_init(mac, macKey, sizeof macKey, params)) die("hmac init");

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
