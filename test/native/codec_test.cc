// Command packet codec and TCP stream reassembly (PROTOCOL.md section 1, section 3).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "diarkis/codec.h"
#include "diarkis/errors.h"
#include "diarkis/stats.h"
#include "vectors.h"

namespace diarkis {
namespace {

using test::hexField;
using test::readVectors;

TEST(CodecVectors, PacketsParseAndReencodeByteForByte) {
  const auto rows = readVectors("packets.tsv");
  ASSERT_EQ(rows.size(), 10u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 7u);
    SCOPED_TRACE(r[0]);
    const bool request = r[1] == "request";
    const auto ver = static_cast<uint8_t>(std::stoi(r[2]));
    const auto cmd = static_cast<uint16_t>(std::stoi(r[3]));
    const Bytes payload = hexField(r[5]);
    const Bytes encoded = hexField(r[6]);

    Bytes out;
    if (request) {
      appendRequest(out, ver, cmd, payload.data(), payload.size());
    } else {
      appendResponse(out, ver, cmd, static_cast<uint8_t>(std::stoi(r[4])), payload.data(),
                     payload.size());
    }
    EXPECT_EQ(out, encoded);

    Packet p;
    const ParseResult res =
        request ? parseRequest(encoded.data(), encoded.size(), wire::kDefaultMaxPayload, p)
                : parseResponse(encoded.data(), encoded.size(), wire::kDefaultMaxPayload, p);
    ASSERT_EQ(res.status, ParseStatus::Ok);
    EXPECT_EQ(res.consumed, encoded.size());
    EXPECT_EQ(p.ver, ver);
    EXPECT_EQ(p.cmd, cmd);
    EXPECT_EQ(p.status, request ? 0 : std::stoi(r[4]));
    EXPECT_EQ(p.payload, payload);

    // Every strict prefix is a valid prefix: NeedMore, never an error.
    for (size_t n = 0; n < encoded.size(); n += (n < 64 ? 1 : 997)) {
      Packet q;
      const ParseResult pr = request ? parseRequest(encoded.data(), n, wire::kDefaultMaxPayload, q)
                                     : parseResponse(encoded.data(), n, wire::kDefaultMaxPayload, q);
      EXPECT_EQ(pr.status, ParseStatus::NeedMore) << "prefix " << n;
    }
  }
}

TEST(Codec, AppendAppendsWithoutTouchingExistingBytes) {
  Bytes out = {0xAA};
  const uint8_t pl[2] = {1, 2};
  appendResponse(out, 2, 0x0102, wire::kStatusOk, pl, 2);
  const Bytes want = {0xAA, 0xFE, 0xBE, 0xDE, 0xEF, 2, 0, 0, 2, 1, 2, 1, 1, 2};
  EXPECT_EQ(out, want);
}

TEST(Codec, BadMagicIsAnErrorFromTheFirstByte) {
  const uint8_t bad[1] = {0x00};
  Packet p;
  const ParseResult r = parseResponse(bad, 1, wire::kDefaultMaxPayload, p);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.reason, DropReason::BadMagic);
  const uint8_t bad3[3] = {0xFE, 0xBE, 0xDF};
  EXPECT_EQ(parseRequest(bad3, 3, wire::kDefaultMaxPayload, p).reason, DropReason::BadMagic);
}

TEST(Codec, LengthAboveMaxPayloadIsTooLarge) {
  Bytes pkt;
  const Bytes pl(101, 7);
  appendResponse(pkt, 2, 1, wire::kStatusOk, pl.data(), pl.size());
  Packet p;
  EXPECT_EQ(parseResponse(pkt.data(), pkt.size(), 101, p).status, ParseStatus::Ok);
  // Known from the first 8 bytes, without waiting for the payload.
  const ParseResult r = parseResponse(pkt.data(), 8, 100, p);
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.reason, DropReason::TooLarge);
  EXPECT_EQ(parseRequest(pkt.data(), 8, 100, p).reason, DropReason::TooLarge);
}

TEST(Codec, ResponseStatusMustBeKnown) {
  for (int s = 0; s < 256; ++s) {
    Bytes pkt;
    appendResponse(pkt, 2, 1, static_cast<uint8_t>(s), nullptr, 0);
    Packet p;
    const ParseResult r = parseResponse(pkt.data(), pkt.size(), wire::kDefaultMaxPayload, p);
    const bool known = s == 1 || s == 4 || s == 5 || s == 0xFF;
    ASSERT_EQ(r.status, known ? ParseStatus::Ok : ParseStatus::Error) << s;
    if (!known) {
      EXPECT_EQ(r.reason, DropReason::BadStatus);
    }
  }
}

TEST(Codec, ParsesOnlyTheFirstOfBackToBackPackets) {
  Bytes two;
  const uint8_t a[3] = {1, 2, 3};
  appendResponse(two, 2, 1, wire::kStatusOk, a, 3);
  appendResponse(two, 2, 2, wire::kStatusPush, a, 1);
  Packet p;
  const ParseResult r = parseResponse(two.data(), two.size(), wire::kDefaultMaxPayload, p);
  ASSERT_EQ(r.status, ParseStatus::Ok);
  EXPECT_EQ(r.consumed, 14u);
  EXPECT_EQ(p.cmd, 1);
}

// --- StreamReassembler -------------------------------------------------------

struct Expected {
  uint8_t ver;
  uint16_t cmd;
  uint8_t status;
  Bytes payload;
};

std::vector<Expected> samplePackets() {
  std::vector<Expected> v;
  v.push_back({2, 1, wire::kStatusOk, {1, 2, 3, 4, 5}});
  v.push_back({0, 400, wire::kStatusPush, {}});
  v.push_back({3, 300, wire::kStatusErr, Bytes(40, 0x5A)});
  v.push_back({2, 4, wire::kStatusBad, {9}});
  return v;
}

Bytes concat(const std::vector<Expected>& pkts) {
  Bytes out;
  for (const auto& e : pkts) appendResponse(out, e.ver, e.cmd, e.status, e.payload.data(), e.payload.size());
  return out;
}

void expectPacket(uint8_t ver, uint16_t cmd, uint8_t status, const Bytes& payload, const Expected& e) {
  EXPECT_EQ(ver, e.ver);
  EXPECT_EQ(cmd, e.cmd);
  EXPECT_EQ(status, e.status);
  EXPECT_EQ(payload, e.payload);
}

// Drains the reassembler and checks it yields exactly `want` in order.
void drainAndCheck(StreamReassembler& s, const std::vector<Expected>& want, size_t& seen) {
  Packet p;
  ParseStatus st;
  while ((st = s.next(p)) == ParseStatus::Ok) {
    ASSERT_LT(seen, want.size());
    expectPacket(p.ver, p.cmd, p.status, p.payload, want[seen]);
    ++seen;
  }
  EXPECT_EQ(st, ParseStatus::NeedMore);
}

TEST(StreamReassembler, AllInOneRead) {
  const auto want = samplePackets();
  const Bytes all = concat(want);
  StreamReassembler s;
  s.feed(all.data(), all.size());
  size_t seen = 0;
  drainAndCheck(s, want, seen);
  EXPECT_EQ(seen, want.size());
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(StreamReassembler, SplitAtEveryByteBoundary) {
  const auto want = samplePackets();
  const Bytes all = concat(want);
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    SCOPED_TRACE(cut);
    StreamReassembler s;
    size_t seen = 0;
    s.feed(all.data(), cut);
    drainAndCheck(s, want, seen);
    s.feed(all.data() + cut, all.size() - cut);
    drainAndCheck(s, want, seen);
    EXPECT_EQ(seen, want.size());
    EXPECT_EQ(s.buffered(), 0u);
  }
}

TEST(StreamReassembler, OneByteAtATime) {
  const auto want = samplePackets();
  const Bytes all = concat(want);
  StreamReassembler s;
  size_t seen = 0;
  for (uint8_t b : all) {
    s.feed(&b, 1);
    drainAndCheck(s, want, seen);
  }
  EXPECT_EQ(seen, want.size());
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(StreamReassembler, TruncatedPacketIsNeedMore) {
  Bytes all = concat(samplePackets());
  all.pop_back();
  StreamReassembler s;
  s.feed(all.data(), all.size());
  Packet p;
  int ok = 0;
  ParseStatus st;
  while ((st = s.next(p)) == ParseStatus::Ok) ++ok;
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(st, ParseStatus::NeedMore);
  EXPECT_EQ(s.buffered(), 11u);  // the last packet's header, payload byte missing
}

// Zero-copy reading (TCP's path): each read's bytes are parsed where they lie.
void readInPlace(StreamReassembler& s, const uint8_t* data, size_t len, const std::vector<Expected>& want,
                 size_t& seen, size_t& inPlace) {
  const uint8_t* const start = data;
  const size_t total = len;
  PacketView v;
  ParseStatus st;
  while ((st = s.next(data, len, v)) == ParseStatus::Ok) {
    ASSERT_LT(seen, want.size());
    expectPacket(v.ver, v.cmd, v.status, Bytes(v.payload, v.payload + v.len), want[seen]);
    if (v.len > 0 && v.payload >= start && v.payload + v.len <= start + total) ++inPlace;
    ++seen;
  }
  EXPECT_EQ(st, ParseStatus::NeedMore);
  EXPECT_EQ(len, 0u);  // consumed or buffered
}

TEST(StreamReassembler, InPlaceReadsParseWhereTheBytesLie) {
  const auto want = samplePackets();
  const Bytes all = concat(want);
  StreamReassembler s;
  size_t seen = 0;
  size_t inPlace = 0;
  readInPlace(s, all.data(), all.size(), want, seen, inPlace);
  EXPECT_EQ(seen, want.size());
  EXPECT_EQ(inPlace, 3u);  // every packet with a payload: no copy
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(StreamReassembler, InPlaceReadsSplitAtEveryByteBoundary) {
  const auto want = samplePackets();
  const Bytes all = concat(want);
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    SCOPED_TRACE(cut);
    StreamReassembler s;
    size_t seen = 0;
    size_t inPlace = 0;
    readInPlace(s, all.data(), cut, want, seen, inPlace);
    readInPlace(s, all.data() + cut, all.size() - cut, want, seen, inPlace);
    EXPECT_EQ(seen, want.size());
    EXPECT_EQ(s.buffered(), 0u);
  }
}

TEST(StreamReassembler, InPlaceReadsKeepTheErrorSticky) {
  Bytes all = concat(samplePackets());
  all[all.size() - 12] ^= 0xFF;  // the magic of the last packet (11-byte header, 1 payload byte)
  StreamReassembler s;
  const uint8_t* d = all.data();
  size_t len = all.size();
  PacketView v;
  int ok = 0;
  ParseStatus st;
  while ((st = s.next(d, len, v)) == ParseStatus::Ok) ++ok;
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(st, ParseStatus::Error);
  EXPECT_EQ(s.error(), DropReason::BadMagic);
  const uint8_t more[] = {1, 2, 3};
  d = more;
  len = sizeof more;
  EXPECT_EQ(s.next(d, len, v), ParseStatus::Error);
  EXPECT_EQ(s.buffered(), 0u);
}

void expectStickyError(const Bytes& stream, uint32_t maxPayload, DropReason reason, int goodFirst) {
  StreamReassembler s(maxPayload);
  s.feed(stream.data(), stream.size());
  Packet p;
  for (int i = 0; i < goodFirst; ++i) ASSERT_EQ(s.next(p), ParseStatus::Ok);
  EXPECT_EQ(s.next(p), ParseStatus::Error);
  EXPECT_EQ(s.error(), reason);
  // Sticky: more (valid) bytes do not resynchronise the stream.
  const Bytes more = concat(samplePackets());
  s.feed(more.data(), more.size());
  EXPECT_EQ(s.next(p), ParseStatus::Error);
  EXPECT_EQ(s.error(), reason);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(StreamReassembler, BadMagicIsSticky) {
  Bytes stream = concat(samplePackets());
  const size_t second = 16;  // first packet: 11 + 5 bytes
  stream[second + 2] ^= 0x01;
  expectStickyError(stream, wire::kDefaultMaxPayload, DropReason::BadMagic, 1);
}

TEST(StreamReassembler, TooLargeIsSticky) {
  // The third packet carries 40 bytes; allow 39.
  expectStickyError(concat(samplePackets()), 39, DropReason::TooLarge, 2);
}

TEST(StreamReassembler, BadStatusIsSticky) {
  Bytes stream = concat(samplePackets());
  stream[10] = 2;  // first packet's status byte
  expectStickyError(stream, wire::kDefaultMaxPayload, DropReason::BadStatus, 0);
}

TEST(StreamReassembler, LongStreamCompactsAndKeepsOrder) {
  // Enough traffic to pass the compaction threshold several times.
  StreamReassembler s;
  Bytes pkt;
  const Bytes pl(1000, 1);
  appendResponse(pkt, 2, 1, wire::kStatusPush, pl.data(), pl.size());
  Packet p;
  size_t got = 0;
  for (int i = 0; i < 300; ++i) {
    s.feed(pkt.data(), 700);  // split mid-packet every time
    s.feed(pkt.data() + 700, pkt.size() - 700);
    if (i % 3 == 0) {
      while (s.next(p) == ParseStatus::Ok) ++got;
    }
  }
  while (s.next(p) == ParseStatus::Ok) ++got;
  EXPECT_EQ(got, 300u);
  EXPECT_EQ(s.buffered(), 0u);
}

// --- names and stats ----------------------------------------------------------

TEST(Errors, NamesRoundTrip) {
  const ErrorCode all[] = {
#define DIARKIS_X(name, str) ErrorCode::name,
      DIARKIS_ERROR_CODES(DIARKIS_X)
#undef DIARKIS_X
  };
  for (ErrorCode c : all) {
    ErrorCode back = ErrorCode::None;
    ASSERT_TRUE(errorCodeFromName(errorCodeName(c), back)) << errorCodeName(c);
    EXPECT_EQ(back, c);
  }
  EXPECT_STREQ(errorCodeName(ErrorCode::BadMac), "bad-mac");
  EXPECT_STREQ(errorCodeName(ErrorCode::ConnectTimeout), "connect-timeout");
  ErrorCode out = ErrorCode::Timeout;
  EXPECT_FALSE(errorCodeFromName("no-such-code", out));
  EXPECT_FALSE(errorCodeFromName(nullptr, out));
  EXPECT_EQ(out, ErrorCode::Timeout);
}

TEST(Errors, DropReasonNames) {
  EXPECT_STREQ(dropReasonName(DropReason::BadMagic), "bad-magic");
  EXPECT_STREQ(dropReasonName(DropReason::ForeignAddress), "foreign-address");
  EXPECT_STREQ(dropReasonName(DropReason::Unexpected), "unexpected");
  EXPECT_STREQ(dropReasonName(DropReason::Count), "unknown");
}

TEST(Stats, SnapshotCopiesEveryCounter) {
  Stats s;
  s.add(&Stats::packetsSent, 3);
  s.add(&Stats::bytesReceived, 100);
  s.add(&Stats::queuedBytes, 7);
  s.add(&Stats::migrations);
  s.add(&Stats::sendDropped, 2);
  s.drop(DropReason::BadMac);
  s.drop(DropReason::BadMac);
  s.drop(DropReason::Unexpected);
  const StatsSnapshot snap = s.snapshot();
  EXPECT_EQ(snap.packetsSent, 3u);
  EXPECT_EQ(snap.bytesReceived, 100u);
  EXPECT_EQ(snap.queuedBytes, 7u);
  EXPECT_EQ(snap.migrations, 1u);
  EXPECT_EQ(snap.sendDropped, 2u);
  EXPECT_EQ(snap.retransmits, 0u);
  EXPECT_EQ(snap.drops[static_cast<size_t>(DropReason::BadMac)], 2u);
  EXPECT_EQ(snap.drops[static_cast<size_t>(DropReason::Unexpected)], 1u);
  EXPECT_EQ(snap.drops[static_cast<size_t>(DropReason::BadMagic)], 0u);
}

}  // namespace
}  // namespace diarkis
