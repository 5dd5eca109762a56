// libFuzzer target for the fragment Reassembler against a reference model, with
// inputs that make many ids, counts and indexes cheap to reach (the raw-bytes
// path is in fuzz_rudp). Invariants (abort() on failure, in every build type):
// the held bytes never exceed the maximum packet; one message at a time; what
// completes is exactly the chunks of one id in order; a rejection frees all.
//
// Input: ops of 6 bytes `id:u16 BE || index:u8 || count:u8 || len:u16 BE`.
// The chunk body is `len % (kFragment + 2)` bytes filled from (id, index); at most 1024 ops;
// an op whose top len bit is set damages the magic instead.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "diarkis/codec.h"
#include "fuzz_common.h"
#include "rudp/fragment.h"

namespace {

using diarkis::Bytes;
namespace rudp = diarkis::rudp;
using fuzz::check;

constexpr size_t kFragment = 1300;
constexpr size_t kMaxPacket = 6000;  // maxCount 5: counts above it are reachable too

Bytes makeChunk(uint16_t id, uint16_t index, uint16_t count, size_t n, bool badMagic) {
  Bytes c(rudp::kFragMagic, rudp::kFragMagic + 4);
  if (badMagic) c[3] ^= 0x01;
  for (uint16_t v : {id, index, count}) {
    c.push_back(static_cast<uint8_t>(v >> 8));
    c.push_back(static_cast<uint8_t>(v));
  }
  // One fill byte per (id, index): a swapped or foreign chunk changes the output. A fill (not a
  // per-byte loop) keeps the fuzzer fast.
  c.insert(c.end(), n, static_cast<uint8_t>(id * 7 + index * 13));
  return c;
}

// What the protocol says should happen, written independently of the class.
struct Model {
  bool open = false;
  uint16_t id = 0, count = 0, next = 0;
  Bytes held;

  rudp::Reassembler::Result add(const Bytes& c, Bytes& out) {
    using R = rudp::Reassembler::Result;
    const uint32_t maxCount = (kMaxPacket + kFragment - 1) / kFragment;
    auto reject = [&] { open = false; held.clear(); return R::Rejected; };
    if (c.size() < rudp::kFragHeaderSize || !rudp::isChunk(c.data(), c.size())) return reject();
    const uint16_t cid = static_cast<uint16_t>(c[4] << 8 | c[5]);
    const uint16_t idx = static_cast<uint16_t>(c[6] << 8 | c[7]);
    const uint16_t cnt = static_cast<uint16_t>(c[8] << 8 | c[9]);
    const size_t n = c.size() - rudp::kFragHeaderSize;
    if (cid > 32767 || cnt == 0 || cnt > maxCount || idx >= cnt || n == 0 || n > kFragment) return reject();
    if (!open ? idx != 0 : (cid != id || cnt != count || idx != next)) return reject();
    if (!open) { open = true; id = cid; count = cnt; next = 0; }
    if (held.size() + n > kMaxPacket) return reject();
    held.insert(held.end(), c.begin() + rudp::kFragHeaderSize, c.end());
    if (++next < count) return R::Incomplete;
    open = false;
    out.swap(held);
    held.clear();
    return R::Complete;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rudp::Reassembler r(kMaxPacket, kFragment);
  Model m;
  for (size_t off = 0; off + 6 <= size && off < 6 * 1024; off += 6) {
    const uint8_t* op = data + off;
    const uint16_t id = static_cast<uint16_t>(op[0] << 8 | op[1]);
    const uint16_t len = static_cast<uint16_t>(op[4] << 8 | op[5]);
    const Bytes c = makeChunk(id, op[2], op[3], (len & 0x7FFF) % (kFragment + 2), (len & 0x8000) != 0);
    Bytes got, want;
    const auto res = r.add(c.data(), c.size(), got);
    check(res == m.add(c, want));
    if (res == rudp::Reassembler::Result::Complete) check(got == want && got.size() <= kMaxPacket);
    if (res == rudp::Reassembler::Result::Rejected) check(r.heldBytes() == 0 && r.error()[0] != '\0');
    check(r.heldBytes() == m.held.size());
    check(r.heldBytes() <= kMaxPacket);
    check(r.pending() == (m.open ? 1u : 0u));
  }
  return 0;
}
