/*
 * Shared by the C floors (tcp_echo_floor.c, udp_echo_floor.c): session keys, the request
 * encoder and the response opener of PROTOCOL sections 1 and 2, and the clocks. Header-only:
 * each floor is one file.
 *
 * Two ways to run the crypto, both without allocating per message:
 *  - lean (default): HMAC-SHA256 from SHA-256 states keyed once (RFC 2104; the state is a plain
 *    struct, copied per message), AES-128-CBC on contexts initialised once and left chained, the
 *    first block corrected by IV ^ last block (the same bytes as a fresh init). This is what the
 *    native client does (native/src/crypto/cipher_openssl.cc), so the floor is as lean as it.
 *  - FLOOR_EVP_CRYPTO (the TCP floor, unchanged as the anchor it is): the EVP contexts are
 *    re-initialised per message (IV only; EVP_MAC_init without a key), which goes through
 *    OpenSSL 3's parameter lookups and duplicates a digest context inside OpenSSL.
 */
#pragma once
#define OPENSSL_SUPPRESS_DEPRECATED  /* SHA256_Init/Update/Final: deprecated, still in 3.x */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { kReqHeader = 10, kResHeader = 11, kSid = 16, kMac = 32 };

static const char *floor_name = "floor";
static unsigned char sid[16], key[16], iv[16], macKey[16];
static EVP_CIPHER_CTX *enc, *dec;
#ifdef FLOOR_EVP_CRYPTO
static EVP_MAC_CTX *mac;
#else
static SHA256_CTX macInner, macOuter;         /* keyed with macKey ^ ipad, macKey ^ opad */
static unsigned char encChain[16], decChain[16];  /* the block each context chains from */
#endif

__attribute__((noreturn)) static void die(const char *what) {
  fprintf(stderr, "%s: %s\n", floor_name, what);
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

/* argv: sid key iv macKey (hex); sets up the contexts every message reuses. */
static void floor_keys(char **argv) {
  hex16(argv[0], sid);
  hex16(argv[1], key);
  hex16(argv[2], iv);
  hex16(argv[3], macKey);
  enc = EVP_CIPHER_CTX_new();
  dec = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(enc, EVP_aes_128_cbc(), NULL, key, iv);
  EVP_DecryptInit_ex(dec, EVP_aes_128_cbc(), NULL, key, iv);
  EVP_CIPHER_CTX_set_padding(enc, 0);
  EVP_CIPHER_CTX_set_padding(dec, 0);
#ifdef FLOOR_EVP_CRYPTO
  EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
  mac = EVP_MAC_CTX_new(m);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end()};
  if (!EVP_MAC_init(mac, macKey, sizeof macKey, params)) die("hmac init");
#else
  unsigned char ipad[SHA256_CBLOCK] = {0}, opad[SHA256_CBLOCK] = {0};
  memcpy(ipad, macKey, sizeof macKey);
  memcpy(opad, macKey, sizeof macKey);
  for (int i = 0; i < SHA256_CBLOCK; i++) {
    ipad[i] ^= 0x36;
    opad[i] ^= 0x5c;
  }
  if (!SHA256_Init(&macInner) || !SHA256_Update(&macInner, ipad, sizeof ipad) || !SHA256_Init(&macOuter) ||
      !SHA256_Update(&macOuter, opad, sizeof opad)) {
    die("hmac init");
  }
  memcpy(encChain, iv, 16);
  memcpy(decChain, iv, 16);
#endif
}

#ifdef FLOOR_EVP_CRYPTO
static void hmac(const unsigned char *c, size_t n, unsigned char out[kMac]) {
  size_t len = 0;
  if (!EVP_MAC_init(mac, NULL, 0, NULL) || !EVP_MAC_update(mac, c, n) || !EVP_MAC_final(mac, out, &len, kMac)) {
    die("hmac");
  }
}

/* AES-128-CBC of whole blocks from the session IV. */
static void cbc(int encrypt, const unsigned char *in, unsigned char *out, size_t n) {
  int outl = 0;
  const int ok = encrypt ? EVP_EncryptInit_ex(enc, NULL, NULL, NULL, iv) && EVP_EncryptUpdate(enc, out, &outl, in, (int)n)
                         : EVP_DecryptInit_ex(dec, NULL, NULL, NULL, iv) && EVP_DecryptUpdate(dec, out, &outl, in, (int)n);
  if (!ok) die("aes");
}
#else
static void hmac(const unsigned char *c, size_t n, unsigned char out[kMac]) {
  unsigned char inner[SHA256_DIGEST_LENGTH];
  SHA256_CTX h = macInner;
  if (!SHA256_Update(&h, c, n) || !SHA256_Final(inner, &h)) die("hmac");
  h = macOuter;
  if (!SHA256_Update(&h, inner, sizeof inner) || !SHA256_Final(out, &h)) die("hmac");
}

/* AES-128-CBC of whole blocks from the session IV, on contexts left chained (see the top). */
static void cbc(int encrypt, const unsigned char *in, unsigned char *out, size_t n) {
  int outl = 0;
  if (encrypt) {
    memmove(out, in, n);
    for (int i = 0; i < 16; i++) out[i] ^= iv[i] ^ encChain[i];
    if (!EVP_EncryptUpdate(enc, out, &outl, out, (int)n) || outl != (int)n) die("aes");
    memcpy(encChain, out + n - 16, 16);
  } else {
    unsigned char last[16];
    memcpy(last, in + n - 16, 16);
    if (!EVP_DecryptUpdate(dec, out, &outl, in, (int)n) || outl != (int)n) die("aes");
    for (int i = 0; i < 16; i++) out[i] ^= iv[i] ^ decChain[i];
    memcpy(decChain, last, 16);
  }
}
#endif

/* header || SID || u32 plen || HMAC || AES-128-CBC(zeroPad(body)); returns the length. */
static size_t encode(unsigned char *out, uint8_t ver, uint16_t cmd, const unsigned char *body, size_t n) {
  const size_t padded = n + (16 - n % 16);
  unsigned char plain[1024];
  memset(plain, 0, padded);
  memcpy(plain, body, n);
  unsigned char *c = out + kReqHeader + kSid + 4 + kMac;
  cbc(1, plain, c, padded);
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

/*
 * Verifies and decrypts one response payload (secure(body)) into plain (2048 bytes); returns the
 * plaintext length or dies.
 */
static size_t open_secure(const unsigned char *p, size_t n, unsigned char *plain) {
  unsigned char want[kMac];
  if (n < 4 + kMac + 16 || (n - 4 - kMac) % 16 != 0 || n - 4 - kMac > 2048) {
    fprintf(stderr, "len %zu\n", n);
    die("bad secure");
  }
  hmac(p + 4 + kMac, n - 4 - kMac, want);
  if (CRYPTO_memcmp(want, p + 4, kMac) != 0) die("bad mac");
  cbc(0, p + 4 + kMac, plain, n - 4 - kMac);
  const size_t plen = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
  if (plen > n - 4 - kMac) die("bad secure: plaintext length");
  return plen;
}

static inline double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static inline double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
