// SessionCipher over Windows CNG (BCrypt), so that the Windows build needs no
// OpenSSL: bcrypt.dll is part of every Windows since Vista.
//
// The algorithm providers are opened once per process (opening one loads and
// initialises a provider: far too slow per session, and their handles may be shared
// between threads). Per session: one AES key object and one reusable HMAC object;
// per packet only the IV copy and the hash data change.
#ifdef _WIN32
#include <windows.h>
// windows.h first: bcrypt.h needs its types
#include <bcrypt.h>

#include <climits>
#include <cstring>
#include <stdexcept>
#include <string>

#include "crypto/session_cipher.h"

namespace diarkis::crypto {
namespace {

bool ok(NTSTATUS s) { return s >= 0; }

[[noreturn]] void fatal(const char* what, NTSTATUS s) {
  throw std::runtime_error(std::string("diarkis crypto (cng): ") + what + " (NTSTATUS " +
                           std::to_string(static_cast<unsigned long>(s)) + ")");
}

struct Providers {
  BCRYPT_ALG_HANDLE aes = nullptr;
  BCRYPT_ALG_HANDLE hmac = nullptr;
  NTSTATUS status = 0;
  const char* failed = nullptr;

  Providers() {
    status = BCryptOpenAlgorithmProvider(&aes, BCRYPT_AES_ALGORITHM, nullptr, 0);
    if (!ok(status)) {
      failed = "BCryptOpenAlgorithmProvider(AES)";
      return;
    }
    wchar_t mode[] = BCRYPT_CHAIN_MODE_CBC;
    status = BCryptSetProperty(aes, BCRYPT_CHAINING_MODE, reinterpret_cast<PUCHAR>(mode),
                               sizeof mode, 0);
    if (!ok(status)) {
      failed = "BCryptSetProperty(CBC)";
      return;
    }
    status = BCryptOpenAlgorithmProvider(&hmac, BCRYPT_SHA256_ALGORITHM, nullptr,
                                         BCRYPT_ALG_HANDLE_HMAC_FLAG);
    if (!ok(status)) failed = "BCryptOpenAlgorithmProvider(HMAC-SHA256)";
  }
  // Kept open for the life of the process: closing them at exit would race with
  // sessions destroyed by other static destructors or still-running threads.
};

const Providers& providers() {
  static const Providers p;  // thread-safe one-time initialisation (C++11)
  if (p.failed) fatal(p.failed, p.status);
  return p;
}

}  // namespace

struct SessionCipher::Handles {
  BCRYPT_KEY_HANDLE key = nullptr;
  BCRYPT_HASH_HANDLE mac = nullptr;
  Key16 iv{};

  ~Handles() {
    // Destroying the objects zeroes the key material CNG holds.
    if (mac) BCryptDestroyHash(mac);
    if (key) BCryptDestroyKey(key);
    SecureZeroMemory(iv.data(), iv.size());
  }

  bool cbc(bool encrypt, const uint8_t* in, uint8_t* out, size_t len) {
    if (len % kBlock != 0 || len > static_cast<size_t>(ULONG_MAX)) return false;
    const auto n = static_cast<ULONG>(len);
    auto* src = const_cast<PUCHAR>(in);  // BCrypt's input is not const-qualified
    ULONG done = 0;
    // HAZARD (wine 8): its BCrypt keeps the CBC chain running when a call passes the
    // same IV as the previous call, so a fixed session IV would chain packet n onto
    // packet n-1. A zero-length call with a different IV resets the chain there (a
    // size query does not); on Windows, which takes pbIV afresh on every call, it
    // processes nothing.
    UCHAR other[kBlock];
    std::memcpy(other, iv.data(), kBlock);
    other[0] = static_cast<UCHAR>(other[0] ^ 0xFF);
    if (encrypt) {
      BCryptEncrypt(key, src, 0, nullptr, other, kBlock, out, n, &done, 0);
    } else {
      BCryptDecrypt(key, src, 0, nullptr, other, kBlock, out, n, &done, 0);
    }
    // BCrypt updates the IV buffer it is given: pass a copy so that every packet
    // starts from the session IV.
    UCHAR ivCopy[kBlock];
    std::memcpy(ivCopy, iv.data(), kBlock);
    done = 0;
    const NTSTATUS s =
        encrypt ? BCryptEncrypt(key, src, n, nullptr, ivCopy, kBlock, out, n, &done, 0)
                : BCryptDecrypt(key, src, n, nullptr, ivCopy, kBlock, out, n, &done, 0);
    SecureZeroMemory(ivCopy, sizeof ivCopy);
    SecureZeroMemory(other, sizeof other);
    return ok(s) && done == n;
  }
};

SessionCipher::SessionCipher(const SessionKeys& k) : h_(std::make_unique<Handles>()) {
  const Providers& p = providers();
  h_->iv = k.iv;
  // CNG allocates the key and hash objects itself when given no buffer (Windows 7+).
  NTSTATUS s = BCryptGenerateSymmetricKey(p.aes, &h_->key, nullptr, 0,
                                          const_cast<PUCHAR>(k.key.data()),
                                          static_cast<ULONG>(k.key.size()), 0);
  if (!ok(s)) fatal("BCryptGenerateSymmetricKey", s);
  // Reusable: BCryptFinishHash resets it to the keyed initial state (Windows 8+).
  s = BCryptCreateHash(p.hmac, &h_->mac, nullptr, 0, const_cast<PUCHAR>(k.macKey.data()),
                       static_cast<ULONG>(k.macKey.size()), BCRYPT_HASH_REUSABLE_FLAG);
  if (!ok(s)) fatal("BCryptCreateHash(HMAC)", s);
}

SessionCipher::~SessionCipher() = default;

bool SessionCipher::encrypt(const uint8_t* in, uint8_t* out, size_t len) {
  return h_->cbc(true, in, out, len);
}

bool SessionCipher::decrypt(const uint8_t* in, uint8_t* out, size_t len) {
  return h_->cbc(false, in, out, len);
}

bool SessionCipher::tag(const uint8_t* data, size_t len, uint8_t* out) {
  // BCryptHashData takes a ULONG length: feed larger inputs in pieces.
  while (len > 0) {
    const ULONG n = len > ULONG_MAX ? ULONG_MAX : static_cast<ULONG>(len);
    if (!ok(BCryptHashData(h_->mac, const_cast<PUCHAR>(data), n, 0))) {
      // Finish into scratch so that the reusable object drops the partial input.
      uint8_t scratch[kMacSize];
      BCryptFinishHash(h_->mac, scratch, static_cast<ULONG>(kMacSize), 0);
      return false;
    }
    data += n;
    len -= n;
  }
  return ok(BCryptFinishHash(h_->mac, out, static_cast<ULONG>(kMacSize), 0));
}

bool equalConstantTime(const uint8_t* a, const uint8_t* b, size_t len) {
  // No CNG export for this; volatile keeps the compiler from short-circuiting.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < len; ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

void wipe(void* p, size_t len) { SecureZeroMemory(p, len); }

const char* backendName() { return "cng"; }

}  // namespace diarkis::crypto
#endif  // _WIN32
