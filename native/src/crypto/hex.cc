// Hex helpers for the 32-character key fields of the endpoint API (PROTOCOL.md section 8).
#include <string>

#include "diarkis/crypto.h"

namespace diarkis {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool parseHex16(const std::string& hex, Key16& out) {
  if (hex.size() != 32) return false;
  Key16 tmp{};
  for (size_t i = 0; i < tmp.size(); ++i) {
    const int hi = hexValue(hex[2 * i]);
    const int lo = hexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    tmp[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  out = tmp;  // only on success: a failed parse leaves `out` as it was
  return true;
}

std::string toHex(const uint8_t* data, size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    s[2 * i] = kDigits[data[i] >> 4];
    s[2 * i + 1] = kDigits[data[i] & 0x0F];
  }
  return s;
}

}  // namespace diarkis
