// What a ReliableChannel sent, for the channel-level tests.
#pragma once
#include <cstdint>
#include <vector>

#include "rudp/reliable.h"

namespace diarkis {
namespace rudp {

struct Out {
  std::vector<Bytes> dg;
  size_t count(Flag f) const {
    size_t n = 0;
    for (const Bytes& d : dg) n += d.size() >= 4 && d[3] == static_cast<uint8_t>(f) ? 1 : 0;
    return n;
  }
  std::vector<uint32_t> seqs(Flag f) const {
    std::vector<uint32_t> s;
    for (const Bytes& d : dg) {
      if (d.size() >= 4 && d[3] == static_cast<uint8_t>(f)) {
        s.push_back(uint32_t{d[0]} | (uint32_t{d[1]} << 8) | (uint32_t{d[2]} << 16));
      }
    }
    return s;
  }
};

// Everything the channel has to send, flushed (the end of a loop turn).
inline Out take(ReliableChannel& ch) {
  Out o;
  ch.takeDatagrams(o.dg);
  return o;
}

}  // namespace rudp
}  // namespace diarkis
