// SessionCipher over OpenSSL 3 libcrypto (POSIX builds).
//
// The contexts are created once per session and reused for every packet: fetching
// algorithms and expanding the AES key schedule per packet costs more than the
// cipher work on small game packets.
#ifndef _WIN32
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
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
using MacPtr = std::unique_ptr<EVP_MAC, Deleter<EVP_MAC, EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX, EVP_MAC_CTX_free>>;

[[noreturn]] void fatal(const char* what) {
  throw std::runtime_error(std::string("diarkis crypto (openssl): ") + what);
}

}  // namespace

struct SessionCipher::Handles {
  CipherPtr aes;
  CipherCtxPtr enc;
  CipherCtxPtr dec;
  MacPtr hmac;
  MacCtxPtr mac;
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
  h_->hmac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!h_->aes || !h_->enc || !h_->dec || !h_->hmac) fatal("cannot create contexts");
  h_->mac.reset(EVP_MAC_CTX_new(h_->hmac.get()));
  if (!h_->mac) fatal("cannot create HMAC context");
  // Key schedules are expanded once here; per packet only the IV is reset.
  if (EVP_EncryptInit_ex2(h_->enc.get(), h_->aes.get(), k.key.data(), k.iv.data(), nullptr) != 1 ||
      EVP_DecryptInit_ex2(h_->dec.get(), h_->aes.get(), k.key.data(), k.iv.data(), nullptr) != 1) {
    fatal("cannot initialise AES");
  }
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
  if (EVP_MAC_init(h_->mac.get(), k.macKey.data(), k.macKey.size(), params) != 1) {
    fatal("cannot initialise HMAC");
  }
}

SessionCipher::~SessionCipher() {
  // EVP_*_free cleanse the contexts; wipe our copy of the IV too.
  OPENSSL_cleanse(h_->iv.data(), h_->iv.size());
}

bool SessionCipher::encrypt(const uint8_t* in, uint8_t* out, size_t len) {
  return h_->cbc(h_->enc.get(), true, in, out, len);
}

bool SessionCipher::decrypt(const uint8_t* in, uint8_t* out, size_t len) {
  return h_->cbc(h_->dec.get(), false, in, out, len);
}

bool SessionCipher::tag(const uint8_t* data, size_t len, uint8_t* out) {
  // A null key re-initialises with the key set in the constructor.
  size_t outLen = 0;
  EVP_MAC_CTX* mac = h_->mac.get();
  return EVP_MAC_init(mac, nullptr, 0, nullptr) == 1 && EVP_MAC_update(mac, data, len) == 1 &&
         EVP_MAC_final(mac, out, &outLen, kMacSize) == 1 && outLen == kMacSize;
}

bool equalConstantTime(const uint8_t* a, const uint8_t* b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

void wipe(void* p, size_t len) { OPENSSL_cleanse(p, len); }

const char* backendName() { return "openssl"; }

}  // namespace diarkis::crypto
#endif  // !_WIN32
