// Fragmenter and Reassembler: round trips both directions and every malformed chunk.
#include <gtest/gtest.h>

#include <numeric>

#include "diarkis/codec.h"
#include "rudp/fragment.h"

namespace diarkis {
namespace rudp {
namespace {

Bytes pattern(size_t n, uint8_t seed = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(i * 31 + seed);
  return b;
}

Bytes chunk(uint16_t id, uint16_t index, uint16_t count, const Bytes& data) {
  Bytes c(kFragMagic, kFragMagic + 4);
  for (uint16_t v : {id, index, count}) {
    c.push_back(static_cast<uint8_t>(v >> 8));
    c.push_back(static_cast<uint8_t>(v));
  }
  c.insert(c.end(), data.begin(), data.end());
  return c;
}

TEST(RudpFragment, SmallPacketsAreNotCut) {
  Fragmenter f;
  EXPECT_FALSE(f.needsCut(1300));
  EXPECT_TRUE(f.needsCut(1301));
}

TEST(RudpFragment, ServerStyleRoundTrip) {
  for (size_t n : {1301u, 2600u, 2601u, 10000u, 65536u}) {
    Fragmenter f;
    const Bytes packet = pattern(n, static_cast<uint8_t>(n));
    std::vector<Bytes> chunks;
    f.cut(packet.data(), packet.size(), chunks);
    ASSERT_EQ(chunks.size(), (n + 1299) / 1300);
    Reassembler r(1u << 20);
    Bytes out;
    for (size_t i = 0; i < chunks.size(); ++i) {
      EXPECT_TRUE(isChunk(chunks[i].data(), chunks[i].size()));
      EXPECT_LE(chunks[i].size(), kFragHeaderSize + 1300);
      const auto res = r.add(chunks[i].data(), chunks[i].size(), out);
      EXPECT_EQ(res, i + 1 == chunks.size() ? Reassembler::Result::Complete : Reassembler::Result::Incomplete);
    }
    EXPECT_EQ(out, packet);
    EXPECT_EQ(r.heldBytes(), 0u);
    EXPECT_EQ(r.pending(), 0u);
  }
}

TEST(RudpFragment, MessagesFollowOneAnother) {
  Fragmenter f;
  Reassembler r(1u << 20);
  for (size_t n : {5000u, 1301u, 2600u}) {
    const Bytes packet = pattern(n, static_cast<uint8_t>(n));
    std::vector<Bytes> chunks;
    f.cut(packet.data(), packet.size(), chunks);
    Bytes out;
    for (const Bytes& c : chunks) r.add(c.data(), c.size(), out);
    EXPECT_EQ(out, packet);
    EXPECT_EQ(r.pending(), 0u);
  }
}

TEST(RudpFragment, ClientStyleChunksAreWrappedRequests) {
  Fragmenter f;
  const Bytes sid(16, 0x5A);
  const Bytes packet = pattern(4000, 3);
  std::vector<Bytes> wrapped;
  f.cutWrapped(packet.data(), packet.size(), 2, 0x0102, sid.data(), wrapped);
  ASSERT_EQ(wrapped.size(), 4u);
  Reassembler r(1u << 20);
  Bytes out;
  for (const Bytes& w : wrapped) {
    EXPECT_LE(w.size(), 1400u);
    Packet p;
    const ParseResult pr = parseRequest(w.data(), w.size(), 1u << 20, p);
    ASSERT_EQ(pr.status, ParseStatus::Ok);
    EXPECT_EQ(pr.consumed, w.size());
    EXPECT_EQ(p.ver, 2);
    EXPECT_EQ(p.cmd, 0x0102);
    ASSERT_GT(p.payload.size(), 16u);
    EXPECT_TRUE(std::equal(sid.begin(), sid.end(), p.payload.begin()));
    r.add(p.payload.data() + 16, p.payload.size() - 16, out);
  }
  EXPECT_EQ(out, packet);
}

TEST(RudpFragment, IdsCountFromZeroAndWrapAt32767) {
  Fragmenter f;
  const Bytes packet = pattern(1400);
  std::vector<Bytes> chunks;
  f.cut(packet.data(), packet.size(), chunks);
  EXPECT_EQ(chunks[0][4], 0);
  EXPECT_EQ(chunks[0][5], 0);
  for (int i = 1; i < 32767; ++i) {
    chunks.clear();
    f.cut(packet.data(), packet.size(), chunks);
  }
  EXPECT_EQ(f.nextId(), 32767);
  chunks.clear();
  f.cut(packet.data(), packet.size(), chunks);
  EXPECT_EQ(chunks[0][4], 0x7F);
  EXPECT_EQ(chunks[0][5], 0xFF);
  EXPECT_EQ(f.nextId(), 0);
}

struct BadCase {
  const char* name;
  std::vector<Bytes> chunks;  // the last one must be rejected
};

TEST(RudpFragment, EveryMalformedChunkIsRejected) {
  const Bytes data(100, 7);
  const std::vector<BadCase> cases = {
      {"too short", {Bytes{0xFF, 0xFE, 0xFD, 0xFC, 0, 0, 0, 0, 0}}},
      {"bad magic", {Bytes{0xFF, 0xFE, 0xFD, 0xFB, 0, 0, 0, 0, 0, 1, 9}}},
      {"count zero", {chunk(0, 0, 0, data)}},
      {"index = count", {chunk(0, 2, 2, data)}},
      {"index beyond count", {chunk(0, 9, 2, data)}},
      {"negative id", {chunk(0x8000, 0, 2, data)}},
      {"negative index", {chunk(1, 0xFFFF, 2, data)}},
      {"negative count", {chunk(1, 0, 0x8001, data)}},
      {"count above what maxPayload allows", {chunk(1, 0, 1000, data)}},
      {"count changes within an id", {chunk(3, 0, 3, data), chunk(3, 1, 4, data)}},
      {"index repeated", {chunk(3, 0, 3, data), chunk(3, 0, 3, data)}},
      {"index skipped", {chunk(3, 0, 3, data), chunk(3, 2, 3, data)}},
      {"a message starting past index 0", {chunk(3, 1, 3, data)}},
      {"another id before the message completed", {chunk(3, 0, 3, data), chunk(4, 0, 3, data)}},
      {"another id continuing", {chunk(3, 0, 3, data), chunk(4, 1, 3, data)}},
      {"empty chunk", {chunk(4, 0, 2, Bytes{})}},
      {"chunk above the fragment size", {chunk(4, 0, 2, Bytes(1301, 1))}},
      {"message above maxPacket", {chunk(5, 0, 3, Bytes(1300, 1)), chunk(5, 1, 3, Bytes(1300, 1)),
                                   chunk(5, 2, 3, Bytes(1300, 1))}},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    Reassembler r(3000);  // maxCount = 3 with 1300-byte chunks
    EXPECT_EQ(r.maxCount(), 3u);
    Bytes out;
    for (size_t i = 0; i + 1 < c.chunks.size(); ++i) {
      EXPECT_NE(r.add(c.chunks[i].data(), c.chunks[i].size(), out), Reassembler::Result::Rejected);
    }
    EXPECT_EQ(r.add(c.chunks.back().data(), c.chunks.back().size(), out), Reassembler::Result::Rejected);
    EXPECT_EQ(r.heldBytes(), 0u);  // the broken message is discarded, nothing leaks
    EXPECT_EQ(r.pending(), 0u);
  }
}

// The flood of the issue: fragment starts of every id, count 807, 11-byte chunks,
// never completed. One partial message at a time: the second start is an error and
// nothing is pre-sized from the peer's count.
TEST(RudpFragment, FragmentStartFloodHoldsOneChunk) {
  Reassembler r((1u << 20) + 27);
  ASSERT_EQ(r.maxCount(), 807u);
  Bytes out;
  const Bytes piece(11, 1);
  const Bytes first = chunk(0, 0, 807, piece);
  EXPECT_EQ(r.add(first.data(), first.size(), out), Reassembler::Result::Incomplete);
  EXPECT_EQ(r.heldBytes(), 11u);
  size_t rejected = 0;
  for (uint16_t id = 1; id < 30000; ++id) {
    const Bytes c = chunk(id, 0, 807, piece);
    const Reassembler::Result res = r.add(c.data(), c.size(), out);
    rejected += res == Reassembler::Result::Rejected ? 1 : 0;
    ASSERT_LE(r.heldBytes(), 11u);
    ASSERT_LE(r.pending(), 1u);
  }
  // After a rejection the next start opens a message again; the caller (the session)
  // ends the connection at the first one, so only the bound matters here.
  EXPECT_GE(rejected, 14999u);
  EXPECT_STREQ(r.error(), "chunk of another id before the current message completed");
}

TEST(RudpFragment, OneMessageIsBoundedByMaxPacket) {
  Reassembler r(4000);  // maxCount 4: 4 x 1300 = 5200 could pass the count check
  Bytes out;
  const Bytes piece(1300, 2);
  for (uint16_t i = 0; i < 3; ++i) {
    const Bytes c = chunk(6, i, 4, piece);
    EXPECT_EQ(r.add(c.data(), c.size(), out), Reassembler::Result::Incomplete);
  }
  EXPECT_EQ(r.heldBytes(), 3900u);
  const Bytes last = chunk(6, 3, 4, piece);
  EXPECT_EQ(r.add(last.data(), last.size(), out), Reassembler::Result::Rejected);
  EXPECT_EQ(r.heldBytes(), 0u);
  EXPECT_STREQ(r.error(), "message beyond the maximum payload");
}

}  // namespace
}  // namespace rudp
}  // namespace diarkis
