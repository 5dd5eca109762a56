// secure(body) (PROTOCOL.md section 2), over OpenSSL libcrypto on POSIX and CNG on Windows:
//   uint32 plaintextLength || HMAC-SHA256(macKey, C) || C,  C = AES-128-CBC(key, iv, zeroPad(body))
// Not thread-safe: one SessionCrypto per session, used on one thread at a time.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "diarkis/codec.h"

namespace diarkis {

using Key16 = std::array<uint8_t, 16>;

struct SessionKeys {
  Key16 sid{};
  Key16 key{};
  Key16 iv{};
  Key16 macKey{};
  bool encrypted = true;  // false: bodies travel as-is (cluster-wide switch)
};

// 32 hex characters -> 16 bytes. False on bad length or characters.
bool parseHex16(const std::string& hex, Key16& out);
std::string toHex(const uint8_t* data, size_t len);

// Size of secure(body) for a body of `len` bytes (len itself when unencrypted).
size_t sealedSize(size_t len, bool encrypted);

class SessionCrypto {
 public:
  explicit SessionCrypto(const SessionKeys& keys);
  ~SessionCrypto();
  SessionCrypto(const SessionCrypto&) = delete;
  SessionCrypto& operator=(const SessionCrypto&) = delete;

  const SessionKeys& keys() const { return keys_; }

  // Append secure(body) (or body when unencrypted) to out.
  void seal(const uint8_t* body, size_t len, Bytes& out);
  // secure(body) -> body, replacing out. On failure returns false and sets reason
  // (BadMac: HMAC mismatch, checked in constant time before decrypting;
  //  BadSecure: too short, C not a positive multiple of 16, plaintextLength > len(C)).
  bool open(const uint8_t* data, size_t len, Bytes& out, DropReason& reason);
  // The same, appending body to out (a host's arena); out keeps its size on failure.
  bool openAppend(const uint8_t* data, size_t len, Bytes& out, DropReason& reason);

  // Append a whole request packet: header || SID || secure(body).
  // Returns PayloadTooLarge (nothing appended) when the packet payload would exceed maxPayload.
  ErrorCode appendRequest(Bytes& out, uint8_t ver, uint16_t cmd, const uint8_t* body, size_t len,
                          uint32_t maxPayload = wire::kDefaultMaxPayload);

 private:
  struct Impl;  // the platform cipher handles, reused across packets
  SessionKeys keys_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace diarkis
