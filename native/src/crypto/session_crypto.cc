// secure(body) framing (PROTOCOL.md section 2): length, zero padding, and the
// MAC-before-decrypt order. The cipher and MAC come from the platform backend
// (crypto/session_cipher.h: OpenSSL on POSIX, CNG on Windows).
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

#include "crypto/session_cipher.h"
#include "diarkis/crypto.h"

namespace diarkis {
namespace {

constexpr size_t kLenSize = 4;
constexpr size_t kMacSize = crypto::kMacSize;
constexpr size_t kBlock = crypto::kBlock;
constexpr size_t kSecureHeader = kLenSize + kMacSize;

[[noreturn]] void fatal(const char* what) {
  // Only allocation or provider failures get here, never bad input.
  throw std::runtime_error(std::string("diarkis crypto: ") + what);
}

}  // namespace

struct SessionCrypto::Impl : crypto::SessionCipher {
  using crypto::SessionCipher::SessionCipher;
};

size_t sealedSize(size_t len, bool encrypted) {
  if (!encrypted) return len;
  return kSecureHeader + (len / kBlock + 1) * kBlock;  // zeroPad adds 1..16 bytes
}

SessionCrypto::SessionCrypto(const SessionKeys& keys) : keys_(keys) {
  if (keys_.encrypted) impl_ = std::make_unique<Impl>(keys_);
}

SessionCrypto::~SessionCrypto() {
  // The backend wipes its handles; wipe our own copies of the keys too.
  crypto::wipe(keys_.key.data(), keys_.key.size());
  crypto::wipe(keys_.iv.data(), keys_.iv.size());
  crypto::wipe(keys_.macKey.data(), keys_.macKey.size());
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
  if (!impl_->encrypt(c, c, clen) || !impl_->tag(c, clen, p + kLenSize)) {
    out.resize(start);
    fatal("seal failed");
  }
}

bool SessionCrypto::open(const uint8_t* data, size_t len, Bytes& out, DropReason& reason) {
  out.clear();
  return openAppend(data, len, out, reason);
}

bool SessionCrypto::openAppend(const uint8_t* data, size_t len, Bytes& out, DropReason& reason) {
  const size_t base = out.size();
  if (!impl_) {
    out.insert(out.end(), data, data + len);
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
  if (!crypto::equalConstantTime(expected, data + kLenSize, kMacSize)) {
    reason = DropReason::BadMac;
    return false;
  }
  out.resize(base + clen);
  if (!impl_->decrypt(c, out.data() + base, clen)) {
    out.resize(base);
    reason = DropReason::Unexpected;
    return false;
  }
  out.resize(base + plainLen);  // any padding content is accepted (section 2)
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
