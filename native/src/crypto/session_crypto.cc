// secure(body) over OpenSSL 3 libcrypto (PROTOCOL.md section 2).
//
// The OpenSSL contexts are created once per session and reused for every packet:
// fetching algorithms and expanding the AES key schedule per packet costs more
// than the cipher work on small game packets.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <climits>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "diarkis/crypto.h"

namespace diarkis {
namespace {

constexpr size_t kLenSize = 4;
constexpr size_t kMacSize = 32;
constexpr size_t kBlock = 16;
constexpr size_t kSecureHeader = kLenSize + kMacSize;

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
  // Only allocation or provider failures get here, never bad input.
  throw std::runtime_error(std::string("diarkis crypto: ") + what);
}

}  // namespace

// HAZARD: these contexts carry state between calls. CBC chaining state must be
// reset to the session IV before every packet (initWithIv), or packet n would be
// encrypted under packet n-1's last block; the HMAC must be re-initialised before
// every packet, or tags would cover earlier packets' bytes. That state is also why
// one SessionCrypto must never be used from two threads at once.
struct SessionCrypto::Impl {
  CipherPtr aes;
  CipherCtxPtr enc;
  CipherCtxPtr dec;
  MacPtr hmac;
  MacCtxPtr mac;
  Key16 iv{};

  explicit Impl(const SessionKeys& k) : iv(k.iv) {
    aes.reset(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr));
    enc.reset(EVP_CIPHER_CTX_new());
    dec.reset(EVP_CIPHER_CTX_new());
    hmac.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    if (!aes || !enc || !dec || !hmac) fatal("cannot create contexts");
    mac.reset(EVP_MAC_CTX_new(hmac.get()));
    if (!mac) fatal("cannot create HMAC context");
    // Key schedules are expanded once here; per packet only the IV is reset.
    if (EVP_EncryptInit_ex2(enc.get(), aes.get(), k.key.data(), k.iv.data(), nullptr) != 1 ||
        EVP_DecryptInit_ex2(dec.get(), aes.get(), k.key.data(), k.iv.data(), nullptr) != 1) {
      fatal("cannot initialise AES");
    }
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
    if (EVP_MAC_init(mac.get(), k.macKey.data(), k.macKey.size(), params) != 1) {
      fatal("cannot initialise HMAC");
    }
  }

  // Resets CBC state to the fixed session IV; padding off because we zero-pad ourselves.
  bool initWithIv(EVP_CIPHER_CTX* ctx, bool encrypt) {
    const int ok = encrypt ? EVP_EncryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr)
                           : EVP_DecryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr);
    return ok == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
  }

  // HMAC-SHA256(macKey, data) into tag[32]. A null key re-initialises with the
  // key set in the constructor.
  bool tag(const uint8_t* data, size_t len, uint8_t* out) {
    size_t outLen = 0;
    return EVP_MAC_init(mac.get(), nullptr, 0, nullptr) == 1 &&
           EVP_MAC_update(mac.get(), data, len) == 1 &&
           EVP_MAC_final(mac.get(), out, &outLen, kMacSize) == 1 && outLen == kMacSize;
  }

  // In-place (exactly overlapping) CBC over a multiple of 16 bytes.
  bool cbc(EVP_CIPHER_CTX* ctx, bool encrypt, const uint8_t* in, uint8_t* out, size_t len) {
    if (len > static_cast<size_t>(INT_MAX)) return false;
    if (!initWithIv(ctx, encrypt)) return false;
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

size_t sealedSize(size_t len, bool encrypted) {
  if (!encrypted) return len;
  return kSecureHeader + (len / kBlock + 1) * kBlock;  // zeroPad adds 1..16 bytes
}

SessionCrypto::SessionCrypto(const SessionKeys& keys) : keys_(keys) {
  if (keys_.encrypted) impl_ = std::make_unique<Impl>(keys_);
}

SessionCrypto::~SessionCrypto() {
  // EVP_*_free cleanse the contexts; wipe our own copies of the keys too.
  OPENSSL_cleanse(keys_.key.data(), keys_.key.size());
  OPENSSL_cleanse(keys_.macKey.data(), keys_.macKey.size());
  if (impl_) OPENSSL_cleanse(impl_->iv.data(), impl_->iv.size());
}

void SessionCrypto::seal(const uint8_t* body, size_t len, Bytes& out) {
  if (!impl_) {
    if (len > 0) out.insert(out.end(), body, body + len);
    return;
  }
  if (len > 0xFFFFFFFFu - kBlock) throw std::length_error("diarkis crypto: body too large");
  const size_t start = out.size();
  const size_t total = sealedSize(len, true);
  const size_t clen = total - kSecureHeader;
  out.resize(start + total, 0);  // zero fill doubles as zeroPad
  uint8_t* p = out.data() + start;
  const auto n = static_cast<uint32_t>(len);
  p[0] = static_cast<uint8_t>(n >> 24);
  p[1] = static_cast<uint8_t>(n >> 16);
  p[2] = static_cast<uint8_t>(n >> 8);
  p[3] = static_cast<uint8_t>(n);
  uint8_t* c = p + kSecureHeader;
  if (len > 0) std::memcpy(c, body, len);
  if (!impl_->cbc(impl_->enc.get(), true, c, c, clen) || !impl_->tag(c, clen, p + kLenSize)) {
    out.resize(start);
    fatal("seal failed");
  }
}

bool SessionCrypto::open(const uint8_t* data, size_t len, Bytes& out, DropReason& reason) {
  if (!impl_) {
    out.assign(data, data + len);
    return true;
  }
  // Structural checks first: they depend on no secret and are cheaper than the MAC.
  if (len < kSecureHeader + kBlock || (len - kSecureHeader) % kBlock != 0) {
    reason = DropReason::BadSecure;
    return false;
  }
  const size_t clen = len - kSecureHeader;
  const uint32_t plainLen = (uint32_t{data[0]} << 24) | (uint32_t{data[1]} << 16) |
                            (uint32_t{data[2]} << 8) | uint32_t{data[3]};
  if (plainLen > clen) {
    reason = DropReason::BadSecure;
    return false;
  }
  const uint8_t* c = data + kSecureHeader;
  uint8_t expected[kMacSize];
  if (!impl_->tag(c, clen, expected)) {
    reason = DropReason::Unexpected;
    return false;
  }
  // Constant time, and before any decryption: unauthenticated ciphertext never
  // reaches the cipher (no padding or timing oracle).
  if (CRYPTO_memcmp(expected, data + kLenSize, kMacSize) != 0) {
    reason = DropReason::BadMac;
    return false;
  }
  out.resize(clen);
  if (!impl_->cbc(impl_->dec.get(), false, c, out.data(), clen)) {
    out.clear();
    reason = DropReason::Unexpected;
    return false;
  }
  out.resize(plainLen);  // any padding content is accepted (section 2)
  return true;
}

ErrorCode SessionCrypto::appendRequest(Bytes& out, uint8_t ver, uint16_t cmd, const uint8_t* body,
                                       size_t len, uint32_t maxPayload) {
  // Check len first so that sealedSize cannot overflow.
  if (len > wire::kMaxLength24) return ErrorCode::PayloadTooLarge;
  const size_t payload = wire::kSidSize + sealedSize(len, keys_.encrypted);
  if (payload > maxPayload || payload > wire::kMaxLength24) return ErrorCode::PayloadTooLarge;
  const size_t start = out.size();
  out.reserve(start + wire::kRequestHeaderSize + payload);
  // The header is written with the SID as its payload, then the length field is
  // patched to cover secure(body) too, so the body is sealed straight into `out`.
  diarkis::appendRequest(out, ver, cmd, keys_.sid.data(), keys_.sid.size());
  seal(body, len, out);
  const auto n = static_cast<uint32_t>(payload);
  out[start + 5] = static_cast<uint8_t>(n >> 16);
  out[start + 6] = static_cast<uint8_t>(n >> 8);
  out[start + 7] = static_cast<uint8_t>(n);
  return ErrorCode::None;
}

}  // namespace diarkis
