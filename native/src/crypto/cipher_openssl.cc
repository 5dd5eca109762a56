// SessionCipher over OpenSSL 3 libcrypto (POSIX builds).
//
// Memory: a session keeps only its keys and the two keyed SHA-256 states (about 300 bytes).
// The AES contexts (about 650 bytes each with their key schedules) are the THREAD's: one
// for encryption, one for decryption, re-keyed when another session uses them. A busy
// session on its own thread re-keys never; many small sessions sharing a thread (the
// idle-client case) re-key per packet, about 800 instructions (callgrind), a few percent of
// a packet's cost, against 1.3 KiB per session kept resident.
//
// CBC restarts from the session IV on every packet without re-initialising the context:
// OpenSSL 3's EVP_CipherInit_ex2 (IV only) and EVP_CIPHER_CTX_set_padding go through
// OSSL_PARAM lookups (string compares), 7-10 % of the loop driver's CPU at 64 requests in
// flight (perf, issue 9). A context left chained on block L yields, for a first block
// P1 ^ IV ^ L, exactly E(P1 ^ IV): the first plaintext block (encrypt) or plaintext block
// (decrypt) is corrected by IV ^ L, the rest chains as CBC does. Same bytes as a fresh init.
//
// HMAC-SHA256 is built on the low-level SHA-256 context (RFC 2104): its state is a
// plain struct, so the inner and outer states keyed once per session are copied by
// value per packet. EVP_MAC re-initialisation duplicates a provider digest context
// instead, a malloc and a free per packet in OpenSSL 3.
#ifndef _WIN32
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init/Update/Final: deprecated, not going away in 3.x
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <atomic>
#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>

#include "crypto/session_cipher.h"

namespace diarkis::crypto {
namespace {

// One RAII owner per OpenSSL handle type: the handle is freed exactly once, on
// every path, including exceptions thrown while the session is being built.
template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using CipherPtr = std::unique_ptr<EVP_CIPHER, Deleter<EVP_CIPHER, EVP_CIPHER_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;

[[noreturn]] void fatal(const char* what) {
  throw std::runtime_error(std::string("diarkis crypto (openssl): ") + what);
}


// A session's identity in the thread's context cache: never reused (an address could be).
std::atomic<uint64_t> nextSessionId{1};

// The calling thread's AES contexts and which session each is keyed for (0: none).
struct ThreadCiphers {
  CipherCtxPtr enc{EVP_CIPHER_CTX_new()};
  CipherCtxPtr dec{EVP_CIPHER_CTX_new()};
  uint64_t encFor = 0;
  uint64_t decFor = 0;
  uint8_t encChain[16] = {};  // the block each context chains from next (its last ciphertext block)
  uint8_t decChain[16] = {};
};

// Trivially destructible, so a session destroyed during thread exit can still look.
thread_local ThreadCiphers* tCiphers = nullptr;

struct ThreadCiphersOwner {
  ~ThreadCiphersOwner() {
    delete tCiphers;  // EVP_CIPHER_CTX_free cleanses the key schedules
    tCiphers = nullptr;
  }
};

ThreadCiphers* threadCiphers() {
  if (tCiphers == nullptr) {
    thread_local ThreadCiphersOwner owner;
    (void)owner;
    tCiphers = new ThreadCiphers();
  }
  return tCiphers;
}

// AES-128-CBC, fetched once per process (EVP_CIPHER is reference counted and shareable).
const EVP_CIPHER* aes128cbc() {
  static const CipherPtr aes(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr));
  return aes.get();
}

}  // namespace

struct SessionCipher::Handles {
  uint64_t id = nextSessionId.fetch_add(1, std::memory_order_relaxed);
  Key16 key{};
  Key16 iv{};
  SHA256_CTX inner{};  // after absorbing macKey ^ ipad
  SHA256_CTX outer{};  // after absorbing macKey ^ opad

  // The thread's context for this direction, keyed for this session (initialised with
  // the session IV, padding off, on a change of session only), and the block it chains from.
  EVP_CIPHER_CTX* context(bool encrypt, uint8_t*& chain, uint64_t*& keyedFor) {
    ThreadCiphers* t = threadCiphers();
    EVP_CIPHER_CTX* ctx = encrypt ? t->enc.get() : t->dec.get();
    keyedFor = encrypt ? &t->encFor : &t->decFor;
    chain = encrypt ? t->encChain : t->decChain;
    const EVP_CIPHER* aes = aes128cbc();
    if (ctx == nullptr || aes == nullptr) return nullptr;
    if (*keyedFor == id) return ctx;
    *keyedFor = 0;  // unknown until the init below succeeds
    const int ok = EVP_CipherInit_ex2(ctx, aes, key.data(), iv.data(), encrypt ? 1 : 0, nullptr);
    if (ok != 1 || EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) return nullptr;
    std::memcpy(chain, iv.data(), kBlock);
    *keyedFor = id;
    return ctx;
  }

  // No EVP_*Final: with padding off, Update hands out every whole block (n == len says so).
  bool cbc(bool encrypt, const uint8_t* in, uint8_t* out, size_t len) {
    if (len > static_cast<size_t>(INT_MAX) || len % kBlock != 0) return false;
    if (len == 0) return true;
    uint8_t* chain = nullptr;
    uint64_t* keyedFor = nullptr;
    EVP_CIPHER_CTX* ctx = context(encrypt, chain, keyedFor);
    if (ctx == nullptr) return false;
    int n = 0;
    const int inLen = static_cast<int>(len);
    bool ok = false;
    if (encrypt) {
      if (out != in) std::memmove(out, in, len);
      for (size_t i = 0; i < kBlock; ++i) out[i] ^= static_cast<uint8_t>(iv[i] ^ chain[i]);
      ok = EVP_EncryptUpdate(ctx, out, &n, out, inLen) == 1 && n == inLen;  // in place: allowed
      if (ok) std::memcpy(chain, out + len - kBlock, kBlock);
    } else {
      uint8_t last[kBlock];
      std::memcpy(last, in + len - kBlock, kBlock);  // before an in-place decrypt overwrites it
      ok = EVP_DecryptUpdate(ctx, out, &n, in, inLen) == 1 && n == inLen;
      if (ok) {
        for (size_t i = 0; i < kBlock; ++i) out[i] ^= static_cast<uint8_t>(iv[i] ^ chain[i]);
        std::memcpy(chain, last, kBlock);
      }
    }
    if (!ok) *keyedFor = 0;  // the chain is unknown: initialise afresh next time
    return ok;
  }

  // This thread's contexts forget our key schedule (other threads' are overwritten by
  // their next session, or freed with the thread).
  void forget() {
    ThreadCiphers* t = tCiphers;
    if (t == nullptr) return;
    if (t->encFor == id) {
      EVP_CIPHER_CTX_reset(t->enc.get());
      t->encFor = 0;
    }
    if (t->decFor == id) {
      EVP_CIPHER_CTX_reset(t->dec.get());
      t->decFor = 0;
    }
  }
};

SessionCipher::SessionCipher(const SessionKeys& k) : h_(std::make_unique<Handles>()) {
  h_->key = k.key;
  h_->iv = k.iv;
  if (aes128cbc() == nullptr) fatal("cannot fetch AES-128-CBC");
  uint8_t ipad[SHA256_CBLOCK] = {0};
  uint8_t opad[SHA256_CBLOCK] = {0};
  std::memcpy(ipad, k.macKey.data(), k.macKey.size());  // a 16-byte key: zero-filled to the block
  std::memcpy(opad, k.macKey.data(), k.macKey.size());
  for (size_t i = 0; i < SHA256_CBLOCK; ++i) {
    ipad[i] ^= 0x36;
    opad[i] ^= 0x5c;
  }
  const bool ok = SHA256_Init(&h_->inner) == 1 && SHA256_Update(&h_->inner, ipad, sizeof ipad) == 1 &&
                  SHA256_Init(&h_->outer) == 1 && SHA256_Update(&h_->outer, opad, sizeof opad) == 1;
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
  if (!ok) fatal("cannot initialise HMAC");
}

SessionCipher::~SessionCipher() {
  h_->forget();
  OPENSSL_cleanse(&h_->inner, sizeof h_->inner);
  OPENSSL_cleanse(&h_->outer, sizeof h_->outer);
  OPENSSL_cleanse(h_->key.data(), h_->key.size());
  OPENSSL_cleanse(h_->iv.data(), h_->iv.size());
}

bool SessionCipher::encrypt(const uint8_t* in, uint8_t* out, size_t len) { return h_->cbc(true, in, out, len); }

bool SessionCipher::decrypt(const uint8_t* in, uint8_t* out, size_t len) { return h_->cbc(false, in, out, len); }

bool SessionCipher::tag(const uint8_t* data, size_t len, uint8_t* out) {
  // HMAC-SHA256(macKey, data) from copies of the keyed states.
  uint8_t innerHash[SHA256_DIGEST_LENGTH];
  SHA256_CTX c = h_->inner;
  bool ok = SHA256_Update(&c, data, len) == 1 && SHA256_Final(innerHash, &c) == 1;
  c = h_->outer;
  ok = ok && SHA256_Update(&c, innerHash, sizeof innerHash) == 1 && SHA256_Final(out, &c) == 1;
  OPENSSL_cleanse(innerHash, sizeof innerHash);
  // c is not wiped: after SHA256_Final its state is the tag (public) and Final has wiped its
  // block buffer; the keyed states it was copied from never stay in it. (Two cleanse calls per
  // packet of no use: issue 9, eighth session.) On failure it may hold a keyed state: wipe.
  if (!ok) OPENSSL_cleanse(&c, sizeof c);
  return ok;
}

bool equalConstantTime(const uint8_t* a, const uint8_t* b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

void wipe(void* p, size_t len) { OPENSSL_cleanse(p, len); }

const char* backendName() { return "openssl"; }

}  // namespace diarkis::crypto
#endif  // !_WIN32
