// Helpers shared by the libFuzzer targets: an abort()-based check (it holds in
// every build type), the record framing of inputs, and fixed session keys.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"

namespace fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

// Input as records `len:uint16 BE || bytes` (a truncated last record takes what is left).
inline std::vector<diarkis::Bytes> records(const uint8_t* data, size_t len) {
  std::vector<diarkis::Bytes> out;
  size_t off = 0;
  while (off < len && out.size() < 256) {
    size_t n = 0;
    if (len - off >= 2) {
      n = static_cast<size_t>((data[off] << 8) | data[off + 1]);
      off += 2;
    } else {
      n = len - off;
    }
    n = n < len - off ? n : len - off;
    out.emplace_back(data + off, data + off + n);
    off += n;
  }
  return out;
}

// Keys the fuzzers can also seal with: inputs stay reproducible across runs.
inline diarkis::SessionKeys fixedKeys(bool encrypted = true) {
  diarkis::SessionKeys k;
  for (uint8_t j = 0; j < 16; ++j) {
    k.sid[j] = j;
    k.key[j] = static_cast<uint8_t>(0xA0 + j);
    k.iv[j] = static_cast<uint8_t>(0xB0 + j);
    k.macKey[j] = static_cast<uint8_t>(0xC0 + j);
  }
  k.encrypted = encrypted;
  return k;
}

}  // namespace fuzz
