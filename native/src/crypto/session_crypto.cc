// secure(body) over OpenSSL 3 libcrypto (PROTOCOL.md section 2).
//
// The OpenSSL contexts are created once per session and reused for every packet:
// fetching algorithms and expanding the AES key schedule per packet costs more
// than the cipher work on small game packets.
//
// HMAC-SHA256 is built on the low-level SHA-256 context (RFC 2104): its state is a
// plain struct, so the inner and outer states keyed once per session are copied
// by value per packet. EVP_MAC re-initialisation duplicates a provider digest
// context instead, a malloc and a free per packet in OpenSSL 3.
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init/Update/Final: deprecated, not going away in 3.x
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

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
  SHA256_CTX inner{};  // after absorbing macKey ^ ipad
  SHA256_CTX outer{};  // after absorbing macKey ^ opad
  Key16 iv{};

  explicit Impl(const SessionKeys& k) : iv(k.iv) {
    aes.reset(EVP_CIPHER_fetch(nullptr, "AES-128-CBC", nullptr));
    enc.reset(EVP_CIPHER_CTX_new());
    dec.reset(EVP_CIPHER_CTX_new());
    if (!aes || !enc || !dec) fatal("cannot create contexts");
    // Key schedules are expanded once here; per packet only the IV is reset.
    if (EVP_EncryptInit_ex2(enc.get(), aes.get(), k.key.data(), k.iv.data(), nullptr) != 1 ||
        EVP_DecryptInit_ex2(dec.get(), aes.get(), k.key.data(), k.iv.data(), nullptr) != 1) {
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
    const bool ok = SHA256_Init(&inner) == 1 && SHA256_Update(&inner, ipad, sizeof ipad) == 1 &&
                    SHA256_Init(&outer) == 1 && SHA256_Update(&outer, opad, sizeof opad) == 1;
    OPENSSL_cleanse(ipad, sizeof ipad);
    OPENSSL_cleanse(opad, sizeof opad);
    if (!ok) fatal("cannot initialise HMAC");
  }
  ~Impl() {
    OPENSSL_cleanse(&inner, sizeof inner);
    OPENSSL_cleanse(&outer, sizeof outer);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Resets CBC state to the fixed session IV; padding off because we zero-pad ourselves.
  bool initWithIv(EVP_CIPHER_CTX* ctx, bool encrypt) {
    const int ok = encrypt ? EVP_EncryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr)
                           : EVP_DecryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr);
    return ok == 1 && EVP_CIPHER_CTX_set_padding(ctx, 0) == 1;
  }

  // HMAC-SHA256(macKey, data) into out[32], from copies of the keyed states.
  bool tag(const uint8_t* data, size_t len, uint8_t* out) {
    uint8_t innerHash[SHA256_DIGEST_LENGTH];
    SHA256_CTX c = inner;
    bool ok = SHA256_Update(&c, data, len) == 1 && SHA256_Final(innerHash, &c) == 1;
    c = outer;
    ok = ok && SHA256_Update(&c, innerHash, sizeof innerHash) == 1 && SHA256_Final(out, &c) == 1;
    OPENSSL_cleanse(innerHash, sizeof innerHash);
    OPENSSL_cleanse(&c, sizeof c);
    return ok;
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
