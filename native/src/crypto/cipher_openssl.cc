// SessionCipher over OpenSSL 3 libcrypto (POSIX builds).
//
// The contexts are created once per session and reused for every packet: fetching
// algorithms and expanding the AES key schedule per packet costs more than the
// cipher work on small game packets.
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

}  // namespace

struct SessionCipher::Handles {
  CipherPtr aes;
  CipherCtxPtr enc;
  CipherCtxPtr dec;
  SHA256_CTX inner{};  // after absorbing macKey ^ ipad
  SHA256_CTX outer{};  // after absorbing macKey ^ opad
  Key16 iv{};

  // Resets CBC state to the fixed session IV; padding off because the framing zero-pads.
  bool restart(EVP_CIPHER_CTX* ctx, bool encrypt) {
    const int ok = encrypt ? EVP_EncryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr)
                           : EVP_DecryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr);
    return ok == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
  }

  bool cbc(EVP_CIPHER_CTX* ctx, bool encrypt, const uint8_t* in, uint8_t* out, size_t len) {
    if (len > static_cast<size_t>(INT_MAX) || !restart(ctx, encrypt)) return false;
    int n = 0;
    int fin = 0;
    const int inLen = static_cast<int>(len);
    if (encrypt) {
      return EVP_EncryptUpdate(ctx, out, &n, in, inLen) == 1 && n == inLen &&
             EVP_EncryptFinal_ex(ctx, out + n, &fin) == 1 && fin == 0;
    }
    return EVP_DecryptUpdate(ctx, out, &n, in, inLen) == 1 && n == inLen &&
           EVP_DecryptFinal_ex(ctx, out + n, &fin) == 1 && fin == 0;
  }
};

SessionCipher::SessionCipher(const SessionKeys& k) : h_(std::make_unique<Handles>()) {
  h_->iv = k.iv;
  h_->aes.reset(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr));
  h_->enc.reset(EVP_CIPHER_CTX_new());
  h_->dec.reset(EVP_CIPHER_CTX_new());
  if (!h_->aes || !h_->enc || !h_->dec) fatal("cannot create contexts");
  // Key schedules are expanded once here; per packet only the IV is reset.
  if (EVP_EncryptInit_ex2(h_->enc.get(), h_->aes.get(), k.key.data(), k.iv.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex2(h_->dec.get(), h_->aes.get(), k.key.data(), k.iv.data(), nullptr) != 1) {
    fatal("cannot initialise AES");
  }
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
  // EVP_*_free cleanse the cipher contexts; wipe the keyed HMAC states and the IV.
  OPENSSL_cleanse(&h_->inner, sizeof h_->inner);
  OPENSSL_cleanse(&h_->outer, sizeof h_->outer);
  OPENSSL_cleanse(h_->iv.data(), h_->iv.size());
}

bool SessionCipher::encrypt(const uint8_t* in, uint8_t* out, size_t len) {
  return h_->cbc(h_->enc.get(), true, in, out, len);
}

bool SessionCipher::decrypt(const uint8_t* in, uint8_t* out, size_t len) {
  return h_->cbc(h_->dec.get(), false, in, out, len);
}

bool SessionCipher::tag(const uint8_t* data, size_t len, uint8_t* out) {
  // HMAC-SHA256(macKey, data) from copies of the keyed states.
  uint8_t innerHash[SHA256_DIGEST_LENGTH];
  SHA256_CTX c = h_->inner;
  bool ok = SHA256_Update(&c, data, len) == 1 && SHA256_Final(innerHash, &c) == 1;
  c = h_->outer;
  ok = ok && SHA256_Update(&c, innerHash, sizeof innerHash) == 1 && SHA256_Final(out, &c) == 1;
  OPENSSL_cleanse(innerHash, sizeof innerHash);
  OPENSSL_cleanse(&c, sizeof c);
  return ok;
}

bool equalConstantTime(const uint8_t* a, const uint8_t* b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

void wipe(void* p, size_t len) { OPENSSL_cleanse(p, len); }

const char* backendName() { return "openssl"; }

}  // namespace diarkis::crypto
#endif  // !_WIN32
