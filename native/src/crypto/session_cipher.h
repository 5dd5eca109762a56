// The keyed primitives secure(body) is built from (PROTOCOL.md section 2), one
// backend per platform behind this class: OpenSSL libcrypto on POSIX
// (cipher_openssl.cc), Windows CNG/BCrypt on Windows (cipher_cng.cc). The framing
// (length, zero padding, MAC-then-decrypt order) lives once, in session_crypto.cc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "diarkis/crypto.h"

namespace diarkis::crypto {

constexpr size_t kMacSize = 32;
constexpr size_t kBlock = 16;

// AES-128-CBC (no padding) under the session key and IV, and HMAC-SHA256 under the
// MAC key. Whatever is keyed once per session is kept (CNG: key handles; OpenSSL: the
// keyed SHA-256 states, with the AES contexts shared per thread and re-keyed on a
// change of session, for memory: cipher_openssl.cc). CBC restarts from the session IV
// and the HMAC from the key on every call. One session is used by one thread at a time.
class SessionCipher {
 public:
  // Throws std::runtime_error when the provider refuses (never on input).
  explicit SessionCipher(const SessionKeys& keys);
  ~SessionCipher();
  SessionCipher(const SessionCipher&) = delete;
  SessionCipher& operator=(const SessionCipher&) = delete;

  // len is a multiple of kBlock; in and out may be the same buffer. False on failure.
  bool encrypt(const uint8_t* in, uint8_t* out, size_t len);
  bool decrypt(const uint8_t* in, uint8_t* out, size_t len);
  // HMAC-SHA256(macKey, data) into out[kMacSize].
  bool tag(const uint8_t* data, size_t len, uint8_t* out);

 private:
  struct Handles;
  std::unique_ptr<Handles> h_;
};

// Constant-time equality (MAC check) and a wipe the optimiser keeps.
bool equalConstantTime(const uint8_t* a, const uint8_t* b, size_t len);
void wipe(void* p, size_t len);

// Which backend this build uses ("openssl" or "cng"), for tests and diagnostics.
const char* backendName();

}  // namespace diarkis::crypto
