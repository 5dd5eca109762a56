// libFuzzer target for everything that reads untrusted packet bytes:
// parseResponse/parseRequest, StreamReassembler fed in input-chosen chunks, and
// SessionCrypto::open with fixed keys. Invariants are checked with abort() so that
// they hold in every build type.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "fuzz_common.h"

namespace {

using diarkis::Bytes;
using diarkis::Packet;
using diarkis::ParseResult;
using diarkis::ParseStatus;
namespace wire = diarkis::wire;
using fuzz::check;

// A small maximum too, so that the fuzzer reaches the TooLarge paths cheaply.
constexpr uint32_t kSmallMax = 300;

void fuzzParse(const uint8_t* data, size_t len, bool request, uint32_t maxPayload) {
  Packet p;
  const ParseResult r = request ? diarkis::parseRequest(data, len, maxPayload, p)
                                : diarkis::parseResponse(data, len, maxPayload, p);
  if (r.status != ParseStatus::Ok) {
    check(r.consumed == 0);
    return;
  }
  const size_t header = request ? wire::kRequestHeaderSize : wire::kResponseHeaderSize;
  check(r.consumed <= len);
  check(r.consumed == header + p.payload.size());
  check(p.payload.size() <= maxPayload);
  // Re-encoding reproduces exactly the bytes that were consumed.
  Bytes again;
  if (request) {
    diarkis::appendRequest(again, p.ver, p.cmd, p.payload.data(), p.payload.size());
  } else {
    diarkis::appendResponse(again, p.ver, p.cmd, p.status, p.payload.data(), p.payload.size());
  }
  check(again.size() == r.consumed);
  check(std::equal(again.begin(), again.end(), data));
}

// Parsing the whole input packet by packet is the reference; the reassembler,
// fed the same bytes in chunks, must produce the same packets and the same end.
// inPlace: its zero-copy reading (next(data, len, view)) instead of feed() + next(packet).
void fuzzStream(const uint8_t* data, size_t len, uint32_t maxPayload, bool inPlace) {
  std::vector<Packet> want;
  size_t pos = 0;
  ParseStatus end = ParseStatus::NeedMore;
  diarkis::DropReason why = diarkis::DropReason::Unexpected;
  while (pos < len) {
    Packet p;
    const ParseResult r = diarkis::parseResponse(data + pos, len - pos, maxPayload, p);
    if (r.status != ParseStatus::Ok) {
      end = r.status;
      why = r.reason;
      break;
    }
    pos += r.consumed;
    want.push_back(std::move(p));
  }

  diarkis::StreamReassembler s(maxPayload);
  size_t fed = 0;
  size_t got = 0;
  size_t i = 0;
  ParseStatus last = ParseStatus::NeedMore;
  while (fed < len) {
    // Chunk sizes 1..64 taken from the input itself.
    const size_t chunk = 1 + data[i++ % len] % 64;
    const size_t n = chunk < len - fed ? chunk : len - fed;
    const uint8_t* in = data + fed;
    size_t left = n;
    if (!inPlace) s.feed(in, left);
    fed += n;
    Packet p;
    diarkis::PacketView v;
    while ((last = inPlace ? s.next(in, left, v) : s.next(p)) == ParseStatus::Ok) {
      if (inPlace) {
        check(left <= n);
        p.ver = v.ver;
        p.cmd = v.cmd;
        p.status = v.status;
        p.payload.assign(v.payload, v.payload + v.len);
      }
      check(got < want.size());
      check(p.ver == want[got].ver && p.cmd == want[got].cmd && p.status == want[got].status &&
            p.payload == want[got].payload);
      ++got;
    }
    if (inPlace && last == ParseStatus::NeedMore) check(left == 0);  // consumed or buffered
    if (last == ParseStatus::Error) break;
  }
  check(got == want.size());
  if (end == ParseStatus::Error) {
    check(last == ParseStatus::Error && s.error() == why);
    check(s.buffered() == 0);
  } else {
    check(last == ParseStatus::NeedMore);
    check(s.buffered() == len - pos);
  }
}

diarkis::SessionCrypto& crypto() {
  static diarkis::SessionCrypto c(fuzz::fixedKeys());
  return c;
}

void fuzzCrypto(const uint8_t* data, size_t len) {
  diarkis::SessionCrypto& c = crypto();
  Bytes out;
  diarkis::DropReason why = diarkis::DropReason::Unexpected;
  if (c.open(data, len, out, why)) {
    check(len >= 52 && out.size() <= len - 36);
  } else {
    check(why == diarkis::DropReason::BadMac || why == diarkis::DropReason::BadSecure);
  }
  // The input as a body: seal then open returns it unchanged.
  Bytes sealed;
  c.seal(data, len, sealed);
  check(sealed.size() == diarkis::sealedSize(len, true));
  Bytes opened;
  check(c.open(sealed.data(), sealed.size(), opened, why));
  check(opened.size() == len && std::equal(opened.begin(), opened.end(), data));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t len) {
  for (uint32_t maxPayload : {wire::kDefaultMaxPayload, kSmallMax}) {
    fuzzParse(data, len, false, maxPayload);
    fuzzParse(data, len, true, maxPayload);
    fuzzStream(data, len, maxPayload, false);
    fuzzStream(data, len, maxPayload, true);
  }
  fuzzCrypto(data, len);
  return 0;
}
