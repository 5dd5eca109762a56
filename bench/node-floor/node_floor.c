/*
 * The Node floor of bench/tcp-throughput: what any Node addon pays per echo round
 * trip on Node's own event loop, with no protocol work and no crypto. JavaScript
 * hands it the request packet once (encoded and sealed by src/protocol: with the
 * session's fixed IV every echo request is the same bytes); send(k) writes k copies
 * in one send(); a uv_poll_t watches the socket; a readable socket is read once,
 * complete answers are counted by their 11-byte headers (nothing is decrypted), and
 * one JS callback per read gets the count (napi_make_callback, so promise
 * continuations would run before it returns, as for the real addon).
 *
 *   open(host, port, firstPacket, onAnswers) -> undefined  (blocking connect, first
 *        request written and its answer read before the poll starts)
 *   setPacket(packet) / send(k) / close()
 *   setCrypto(key, iv, macKey) -> undefined  (the crypto floor: from then on send(k)
 *        encodes k requests with AES-128-CBC + HMAC-SHA256 and every answer is verified
 *        and decrypted, with OpenSSL as the addon does it)
 *
 * Bench only (built by bench/lib/node-floor.ts with cc against Node's own headers),
 * never in the package. One connection per process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_*: as the addon */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor_addon.h"

enum { kReqHeader = 10, kResHeader = 11, kSid = 16, kMac = 32, kBody = 64, kMaxCopies = 256 };

static int fd = -1;
static unsigned char *packets; /* kMaxCopies copies of the request */
static size_t packet_len;
static unsigned char rbuf[1 << 16];
static size_t rlen;
/*
 * The crypto floor (setCrypto): the same seal per request and verify + open per answer as the
 * addon (native/src/crypto/cipher_openssl.cc), i.e. the cheapest way we know with OpenSSL:
 * HMAC-SHA256 from copies of the keyed SHA-256 states (3 compressions per 64-byte body), and
 * AES-128-CBC contexts that are never re-initialised (CBC continues from the last block L; the
 * first block is corrected by IV ^ L). The C floor re-initialises per packet (dearer).
 */
static int crypto_on;
static unsigned char iv[16], enc_last[16], dec_last[16];
static EVP_CIPHER_CTX *enc, *dec;
static SHA256_CTX inner, outer;
static int crypto_failed;

static void hmac(const unsigned char *c, size_t n, unsigned char out[kMac]) {
  unsigned char h[SHA256_DIGEST_LENGTH];
  SHA256_CTX x = inner;
  if (SHA256_Update(&x, c, n) != 1 || SHA256_Final(h, &x) != 1) crypto_failed = 1;
  x = outer;
  if (SHA256_Update(&x, h, sizeof h) != 1 || SHA256_Final(out, &x) != 1) crypto_failed = 1;
}

/* header || SID || u32 plen || HMAC || AES-128-CBC(zeroPad(body)), as the addon seals; the
 * header, SID and length are the prepared packet's (the same for every echo request). */
static size_t encode(unsigned char *out, const unsigned char *body, size_t n) {
  const size_t padded = n + (16 - n % 16);
  unsigned char plain[kBody + 16];
  memset(plain, 0, padded);
  memcpy(plain, body, n);
  for (int i = 0; i < 16; i++) plain[i] ^= (unsigned char)(iv[i] ^ enc_last[i]);
  memcpy(out, packets, kReqHeader + kSid + 4);
  unsigned char *c = out + kReqHeader + kSid + 4 + kMac;
  int outl = 0;
  if (!EVP_EncryptUpdate(enc, c, &outl, plain, (int)padded) || (size_t)outl != padded) crypto_failed = 1;
  memcpy(enc_last, c + padded - 16, 16);
  hmac(c, padded, out + kReqHeader + kSid + 4);
  return kReqHeader + kSid + 4 + kMac + padded;
}

/* Verifies and decrypts one answer's payload (secure(body)). */
static void open_secure(const unsigned char *p, size_t n) {
  unsigned char want[kMac], plain[2048];
  if (n < 4 + kMac + 16 || (n - 4 - kMac) % 16 != 0 || n - 4 - kMac > sizeof plain) {
    crypto_failed = 1;
    return;
  }
  const unsigned char *c = p + 4 + kMac;
  const size_t cl = n - 4 - kMac;
  hmac(c, cl, want);
  if (CRYPTO_memcmp(want, p + 4, kMac) != 0) crypto_failed = 1;
  int outl = 0;
  if (!EVP_DecryptUpdate(dec, plain, &outl, c, (int)cl) || (size_t)outl != cl) crypto_failed = 1;
  for (int i = 0; i < 16; i++) plain[i] ^= (unsigned char)(iv[i] ^ dec_last[i]);
  memcpy(dec_last, c + cl - 16, 16);
}

/* Complete answers at the front of rbuf, consumed; the rest moved to the front. */
static int take_answers(void) {
  size_t off = 0;
  int n = 0;
  while (rlen - off >= kResHeader) {
    const unsigned char *h = rbuf + off;
    const size_t len = ((size_t)h[5] << 16) | ((size_t)h[6] << 8) | h[7];
    if (rlen - off < kResHeader + len) break;
    if (crypto_on) open_secure(h + kResHeader, len);
    off += kResHeader + len;
    n++;
  }
  memmove(rbuf, rbuf + off, rlen - off);
  rlen -= off;
  return n;
}

static int write_all(const unsigned char *p, size_t n) {
  while (n > 0) {
    const ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1; /* the floor's writes are small: a full send buffer is a failure here */
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)events;
  if (status < 0) return;
  const ssize_t r = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
  if (r <= 0) {
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    uv_poll_stop(&poll_handle);
    return;
  }
  rlen += (size_t)r;
  int n = take_answers();
  if (crypto_failed) n = -1; /* JavaScript fails the run */
  if (n != 0) floor_call_js(n);
}

static int buffer_arg(napi_env env, napi_value v, void **data, size_t *len) {
  bool is = false;
  return napi_is_buffer(env, v, &is) == napi_ok && is && napi_get_buffer_info(env, v, data, len) == napi_ok;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char host[64];
  size_t hl = 0;
  int32_t port = 0;
  void *first = NULL;
  size_t first_len = 0;
  if (argc != 4 || napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hl) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || !buffer_arg(env, argv[2], &first, &first_len)) {
    return throw_error(env, "open(host, port, firstPacket, onAnswers)");
  }
  if (fd >= 0) return throw_error(env, "already open");
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return throw_error(env, "host must be numeric IPv4");
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return throw_error(env, "connect failed");
  if (write_all(first, first_len) != 0) return throw_error(env, "send failed");
  while (take_answers() == 0) { /* blocking: the first answer */
    const ssize_t r = recv(fd, rbuf + rlen, sizeof rbuf - rlen, 0);
    if (r <= 0) return throw_error(env, "the server closed before answering");
    rlen += (size_t)r;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (floor_watch(env, fd, argv[3], "node-floor", on_readable) != 0) return throw_error(env, "cannot watch the socket");
  return NULL;
}

static napi_value SetPacket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *p = NULL;
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || !buffer_arg(env, argv[0], &p, &len) || len == 0) return throw_error(env, "setPacket(buffer)");
  free(packets);
  packets = malloc(len * kMaxCopies);
  if (!packets) return throw_error(env, "out of memory");
  for (int i = 0; i < kMaxCopies; i++) memcpy(packets + (size_t)i * len, p, len);
  packet_len = len;
  return NULL;
}

static napi_value Send(napi_env env, napi_callback_info info) {
  int32_t k = 0;
  if (!floor_int_arg(env, info, 1, kMaxCopies, &k) || !packets) {
    return throw_error(env, "send(k): 1..256 after setPacket");
  }
  if (crypto_on) {
    static unsigned char out[kMaxCopies * (kReqHeader + kSid + 4 + kMac + kBody + 16)];
    unsigned char body[kBody];
    memset(body, 7, sizeof body);
    size_t o = 0;
    for (int i = 0; i < k; i++) o += encode(out + o, body, sizeof body);
    if (crypto_failed) return throw_error(env, "crypto failed");
    if (write_all(out, o) != 0) return throw_error(env, "send failed");
    return NULL;
  }
  if (write_all(packets, packet_len * (size_t)k) != 0) return throw_error(env, "send failed");
  return NULL;
}

static napi_value SetCrypto(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  void *b[3];
  size_t len[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  for (size_t i = 0; i < 3; i++) {
    if (argc != 3 || !buffer_arg(env, argv[i], &b[i], &len[i]) || len[i] != 16 || !packets) {
      return throw_error(env, "setCrypto(key, iv, macKey): 16-byte Buffers, after setPacket");
    }
  }
  memcpy(iv, b[1], 16);
  memcpy(enc_last, iv, 16); /* a fresh context chains on the IV */
  memcpy(dec_last, iv, 16);
  unsigned char ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];
  memset(ipad, 0x36, sizeof ipad);
  memset(opad, 0x5c, sizeof opad);
  for (int i = 0; i < 16; i++) {
    ipad[i] ^= ((unsigned char *)b[2])[i];
    opad[i] ^= ((unsigned char *)b[2])[i];
  }
  enc = EVP_CIPHER_CTX_new();
  dec = EVP_CIPHER_CTX_new();
  if (!enc || !dec || !EVP_EncryptInit_ex(enc, EVP_aes_128_cbc(), NULL, b[0], iv) ||
      !EVP_DecryptInit_ex(dec, EVP_aes_128_cbc(), NULL, b[0], iv) || !EVP_CIPHER_CTX_set_padding(enc, 0) ||
      !EVP_CIPHER_CTX_set_padding(dec, 0) || SHA256_Init(&inner) != 1 || SHA256_Update(&inner, ipad, sizeof ipad) != 1 ||
      SHA256_Init(&outer) != 1 || SHA256_Update(&outer, opad, sizeof opad) != 1) {
    return throw_error(env, "OpenSSL setup failed");
  }
  crypto_on = 1;
  return NULL;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  (void)info;
  floor_unwatch(env);
  if (fd >= 0) close(fd);
  fd = -1;
  return NULL;
}

NAPI_MODULE_INIT() {
  static const floor_export list[] = {{"open", Open}, {"setPacket", SetPacket}, {"send", Send}, {"setCrypto", SetCrypto}, {"close", Close}};
  return floor_exports(env, exports, list, sizeof list / sizeof list[0]);
}
