// secure(body) (PROTOCOL.md section 2) against the golden vectors, plus every
// rejection rule.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "crypto/session_cipher.h"
#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "vectors.h"

namespace diarkis {
namespace {

using test::hexField;
using test::readVectors;

Key16 key16(const std::string& hex) {
  Key16 k{};
  EXPECT_TRUE(parseHex16(hex, k)) << hex;
  return k;
}

SessionKeys fixedKeys() {
  SessionKeys k;
  for (uint8_t i = 0; i < 16; ++i) {
    k.sid[i] = i;
    k.key[i] = static_cast<uint8_t>(0x10 + i);
    k.iv[i] = static_cast<uint8_t>(0x20 + i);
    k.macKey[i] = static_cast<uint8_t>(0x30 + i);
  }
  return k;
}

TEST(CryptoVectors, SealAndOpenByteForByte) {
  const auto rows = readVectors("secure.tsv");
  ASSERT_EQ(rows.size(), 8u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 6u);
    SCOPED_TRACE(r[0]);
    SessionKeys k;
    k.key = key16(r[1]);
    k.iv = key16(r[2]);
    k.macKey = key16(r[3]);
    const Bytes body = hexField(r[4]);
    const Bytes secured = hexField(r[5]);
    SessionCrypto c(k);
    EXPECT_EQ(sealedSize(body.size(), true), secured.size());
    // Twice: the reused contexts must start every packet from the session IV.
    for (int round = 0; round < 2; ++round) {
      Bytes out;
      c.seal(body.data(), body.size(), out);
      EXPECT_EQ(out, secured);
      Bytes opened = {0xEE};
      DropReason why = DropReason::Unexpected;
      ASSERT_TRUE(c.open(secured.data(), secured.size(), opened, why));
      EXPECT_EQ(opened, body);
    }
  }
}

TEST(CryptoVectors, WholeRequestPackets) {
  const auto rows = readVectors("requests.tsv");
  ASSERT_EQ(rows.size(), 3u);
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 9u);
    SCOPED_TRACE(r[0]);
    SessionKeys k;
    k.sid = key16(r[3]);
    k.key = key16(r[4]);
    k.iv = key16(r[5]);
    k.macKey = key16(r[6]);
    const Bytes body = hexField(r[7]);
    const Bytes encoded = hexField(r[8]);
    SessionCrypto c(k);
    Bytes out = {0x01, 0x02};  // appends after existing bytes
    ASSERT_EQ(c.appendRequest(out, static_cast<uint8_t>(std::stoi(r[1])),
                              static_cast<uint16_t>(std::stoi(r[2])), body.data(), body.size()),
              ErrorCode::None);
    Bytes want = {0x01, 0x02};
    want.insert(want.end(), encoded.begin(), encoded.end());
    EXPECT_EQ(out, want);

    // And back: parse, strip the SID, open.
    Packet p;
    const ParseResult pr = parseRequest(encoded.data(), encoded.size(), wire::kDefaultMaxPayload, p);
    ASSERT_EQ(pr.status, ParseStatus::Ok);
    ASSERT_GE(p.payload.size(), wire::kSidSize);
    EXPECT_EQ(toHex(p.payload.data(), wire::kSidSize), r[3]);
    Bytes opened;
    DropReason why = DropReason::Unexpected;
    ASSERT_TRUE(c.open(p.payload.data() + wire::kSidSize, p.payload.size() - wire::kSidSize, opened, why));
    EXPECT_EQ(opened, body);
  }
}

class CryptoNegative : public ::testing::Test {
 protected:
  SessionCrypto c{fixedKeys()};
  Bytes body = Bytes(20, 0x42);
  Bytes sealed;
  void SetUp() override { c.seal(body.data(), body.size(), sealed); }

  DropReason reject(const Bytes& in) {
    Bytes out = {0x77};
    DropReason why = DropReason::Unexpected;
    EXPECT_FALSE(c.open(in.data(), in.size(), out, why));
    return why;
  }
};

TEST_F(CryptoNegative, FlippedMacBitIsBadMac) {
  for (size_t i = 4; i < 36; ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x80;
    EXPECT_EQ(reject(bad), DropReason::BadMac) << i;
  }
}

TEST_F(CryptoNegative, FlippedCiphertextIsBadMac) {
  for (size_t i = 36; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_EQ(reject(bad), DropReason::BadMac) << i;
  }
}

TEST_F(CryptoNegative, CiphertextNotMultipleOf16IsBadSecure) {
  Bytes bad = sealed;
  bad.push_back(0);
  EXPECT_EQ(reject(bad), DropReason::BadSecure);
  bad.resize(sealed.size() - 1);
  EXPECT_EQ(reject(bad), DropReason::BadSecure);
}

TEST_F(CryptoNegative, TooShortIsBadSecure) {
  EXPECT_EQ(reject(Bytes{}), DropReason::BadSecure);
  EXPECT_EQ(reject(Bytes(3, 0)), DropReason::BadSecure);          // not even the length
  EXPECT_EQ(reject(Bytes(sealed.begin(), sealed.begin() + 36)), DropReason::BadSecure);  // C empty
  EXPECT_EQ(reject(Bytes(35 + 16, 0)), DropReason::BadSecure);    // header one byte short
}

TEST_F(CryptoNegative, PlaintextLengthBeyondCiphertextIsBadSecure) {
  Bytes bad = sealed;  // C is 32 bytes here; the MAC still matches
  bad[3] = 33;
  EXPECT_EQ(reject(bad), DropReason::BadSecure);
  bad[0] = 0xFF;
  EXPECT_EQ(reject(bad), DropReason::BadSecure);
  // Exactly len(C) is allowed: padding bytes become body bytes.
  Bytes edge = sealed;
  edge[3] = 32;
  Bytes out;
  DropReason why = DropReason::Unexpected;
  ASSERT_TRUE(c.open(edge.data(), edge.size(), out, why));
  ASSERT_EQ(out.size(), 32u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + 20), body);
  EXPECT_EQ(Bytes(out.begin() + 20, out.end()), Bytes(12, 0));
}

TEST_F(CryptoNegative, ExtraZeroBlockOfPaddingIsAccepted) {
  // A peer that pads 20 bytes to 48: seal a 33-byte body (20 real + zeros) and
  // rewrite plaintextLength to 20. The MAC covers C only, so it still verifies.
  Bytes padded = body;
  padded.resize(33, 0);
  Bytes sealed48;
  c.seal(padded.data(), padded.size(), sealed48);
  ASSERT_EQ(sealed48.size(), 36u + 48u);
  sealed48[3] = 20;
  Bytes out;
  DropReason why = DropReason::Unexpected;
  ASSERT_TRUE(c.open(sealed48.data(), sealed48.size(), out, why));
  EXPECT_EQ(out, body);
}

TEST(Crypto, UnencryptedModePassesThrough) {
  SessionKeys k = fixedKeys();
  k.encrypted = false;
  SessionCrypto c(k);
  const Bytes body = {1, 2, 3};
  Bytes out = {9};
  c.seal(body.data(), body.size(), out);
  EXPECT_EQ(out, (Bytes{9, 1, 2, 3}));
  EXPECT_EQ(sealedSize(3, false), 3u);
  Bytes opened;
  DropReason why = DropReason::Unexpected;
  ASSERT_TRUE(c.open(body.data(), body.size(), opened, why));
  EXPECT_EQ(opened, body);

  Bytes pkt;
  ASSERT_EQ(c.appendRequest(pkt, 2, 7, body.data(), body.size()), ErrorCode::None);
  Bytes want;
  Bytes payload(k.sid.begin(), k.sid.end());
  payload.insert(payload.end(), body.begin(), body.end());
  appendRequest(want, 2, 7, payload.data(), payload.size());
  EXPECT_EQ(pkt, want);
}

TEST(Crypto, AppendRequestRefusesOversizePayload) {
  SessionCrypto c(fixedKeys());
  const Bytes body(100, 1);
  const size_t payload = wire::kSidSize + sealedSize(body.size(), true);  // 16 + 36 + 112
  Bytes out = {5};
  EXPECT_EQ(c.appendRequest(out, 2, 1, body.data(), body.size(), static_cast<uint32_t>(payload - 1)),
            ErrorCode::PayloadTooLarge);
  EXPECT_EQ(out, Bytes{5});  // nothing appended
  EXPECT_EQ(c.appendRequest(out, 2, 1, body.data(), body.size(), static_cast<uint32_t>(payload)),
            ErrorCode::None);
  EXPECT_EQ(out.size(), 1 + wire::kRequestHeaderSize + payload);
  // Beyond the uint24 length field, whatever maxPayload says.
  const Bytes huge(wire::kMaxLength24, 0);
  Bytes out2;
  EXPECT_EQ(c.appendRequest(out2, 2, 1, huge.data(), huge.size(), 0xFFFFFFFFu),
            ErrorCode::PayloadTooLarge);
  EXPECT_TRUE(out2.empty());
}

TEST(Crypto, SealedSizeAddsOneToSixteenBytesOfPadding) {
  EXPECT_EQ(sealedSize(0, true), 36u + 16u);
  EXPECT_EQ(sealedSize(15, true), 36u + 16u);
  EXPECT_EQ(sealedSize(16, true), 36u + 32u);
  EXPECT_EQ(sealedSize(17, true), 36u + 32u);
}

TEST(Crypto, ParseHexAndToHex) {
  Key16 k{};
  ASSERT_TRUE(parseHex16("000102030405060708090a0B0c0D0e0F", k));
  EXPECT_EQ(k[0], 0);
  EXPECT_EQ(k[11], 0x0B);
  EXPECT_EQ(k[15], 0x0F);
  EXPECT_EQ(toHex(k.data(), k.size()), "000102030405060708090a0b0c0d0e0f");
  const Key16 before = k;
  EXPECT_FALSE(parseHex16("", k));
  EXPECT_FALSE(parseHex16("000102030405060708090a0b0c0d0e0", k));    // 31
  EXPECT_FALSE(parseHex16("000102030405060708090a0b0c0d0e0f0", k));  // 33
  EXPECT_FALSE(parseHex16("000102030405060708090a0b0c0d0e0g", k));
  EXPECT_FALSE(parseHex16("00010203040506070809 a0b0c0d0e0f", k));
  EXPECT_EQ(k, before);  // untouched on failure
  EXPECT_EQ(toHex(nullptr, 0), "");
}

TEST(Crypto, SessionsWithDifferentKeysRejectEachOther) {
  SessionKeys a = fixedKeys();
  SessionKeys b = fixedKeys();
  b.macKey[0] ^= 1;
  SessionCrypto ca(a);
  SessionCrypto cb(b);
  const Bytes body = {1, 2, 3};
  Bytes sealed;
  ca.seal(body.data(), body.size(), sealed);
  Bytes out;
  DropReason why = DropReason::Unexpected;
  EXPECT_FALSE(cb.open(sealed.data(), sealed.size(), out, why));
  EXPECT_EQ(why, DropReason::BadMac);
}

}  // namespace
}  // namespace diarkis

namespace diarkis {
namespace {

// The vectors above prove whichever backend this build links; this pins which one
// that is, so that the Windows run cannot silently prove OpenSSL instead of CNG.
TEST(Crypto, BackendIsThePlatformOne) {
#ifdef _WIN32
  EXPECT_STREQ(crypto::backendName(), "cng");
#else
  EXPECT_STREQ(crypto::backendName(), "openssl");
#endif
}

// Handles are reused across packets and sessions are independent: interleave two
// sessions over bodies of every padding length and check each round-trips.
TEST(Crypto, InterleavedSessionsKeepTheirOwnState) {
  SessionKeys a = fixedKeys();
  SessionKeys b = fixedKeys();
  b.iv[0] ^= 1;
  SessionCrypto ca(a);
  SessionCrypto cb(b);
  for (size_t len = 0; len <= 48; ++len) {
    Bytes body(len, static_cast<uint8_t>(len));
    Bytes sa, sb, oa, ob;
    ca.seal(body.data(), body.size(), sa);
    cb.seal(body.data(), body.size(), sb);
    EXPECT_NE(sa, sb) << len;
    DropReason why = DropReason::Unexpected;
    ASSERT_TRUE(ca.open(sa.data(), sa.size(), oa, why)) << len;
    ASSERT_TRUE(cb.open(sb.data(), sb.size(), ob, why)) << len;
    EXPECT_EQ(oa, body);
    EXPECT_EQ(ob, body);
  }
}

}  // namespace
}  // namespace diarkis

namespace diarkis {
namespace {

Bytes sealedBy(const SessionKeys& keys, const Bytes& body) {
  SessionCrypto c(keys);
  Bytes out;
  c.seal(body.data(), body.size(), out);
  return out;
}

// The OpenSSL backend shares its AES contexts per thread and re-keys them when another
// session uses them: sessions with different keys, interleaved on one thread and across
// threads, and a session made where a destroyed one lived, each seal exactly what a lone
// session with its keys seals, and open each other's nothing.
TEST(Crypto, SharedContextsAreKeyedForTheSessionUsingThem) {
  SessionKeys a = fixedKeys();
  SessionKeys b = fixedKeys();
  b.key[0] ^= 0x80;
  const Bytes body(37, 0x5a);
  const Bytes refA = sealedBy(a, body);
  const Bytes refB = sealedBy(b, body);
  ASSERT_NE(refA, refB);
  SessionCrypto ca(a);
  SessionCrypto cb(b);
  for (int round = 0; round < 3; ++round) {
    Bytes sa, sb, oa, ob;
    ca.seal(body.data(), body.size(), sa);
    cb.seal(body.data(), body.size(), sb);
    EXPECT_EQ(sa, refA);
    EXPECT_EQ(sb, refB);
    DropReason why = DropReason::Unexpected;
    ASSERT_TRUE(cb.open(refB.data(), refB.size(), ob, why));
    ASSERT_TRUE(ca.open(refA.data(), refA.size(), oa, why));
    EXPECT_EQ(oa, body);
    EXPECT_EQ(ob, body);
  }
  // Another thread uses both sessions (one at a time), then this thread again.
  std::thread([&] {
    Bytes sb, sa;
    cb.seal(body.data(), body.size(), sb);
    ca.seal(body.data(), body.size(), sa);
    EXPECT_EQ(sb, refB);
    EXPECT_EQ(sa, refA);
  }).join();
  Bytes sa;
  ca.seal(body.data(), body.size(), sa);
  EXPECT_EQ(sa, refA);
  // A destroyed session's successor (possibly at the same address) gets its own key.
  for (int i = 0; i < 4; ++i) {
    auto c = std::make_unique<SessionCrypto>(i % 2 == 0 ? a : b);
    Bytes s;
    c->seal(body.data(), body.size(), s);
    EXPECT_EQ(s, i % 2 == 0 ? refA : refB) << i;
  }
}

}  // namespace
}  // namespace diarkis

namespace diarkis {
namespace {

// The OpenSSL backend restarts CBC from the session IV without re-initialising its
// contexts (cipher_openssl.cc): packets of every length in a row, sealed and opened by
// one session, are byte for byte what a fresh session seals and opens, in both orders.
TEST(Crypto, PacketsInARowRestartFromTheSessionIv) {
  const SessionKeys k = fixedKeys();
  SessionCrypto c(k);
  for (int round = 0; round < 2; ++round) {
    for (size_t len = 0; len <= 70; len += (len < 20 ? 1 : 7)) {
      Bytes body(len);
      for (size_t i = 0; i < len; ++i) body[i] = static_cast<uint8_t>(i * 31 + len);
      const Bytes ref = sealedBy(k, body);
      Bytes s;
      c.seal(body.data(), body.size(), s);
      EXPECT_EQ(s, ref) << len;
      Bytes opened;
      DropReason why = DropReason::Unexpected;
      ASSERT_TRUE(c.open(ref.data(), ref.size(), opened, why)) << len;
      EXPECT_EQ(opened, body) << len;
      // A tampered packet is refused before decryption and leaves the next one intact.
      Bytes bad = ref;
      bad.back() ^= 1;
      EXPECT_FALSE(c.open(bad.data(), bad.size(), opened, why));
    }
  }
}

}  // namespace
}  // namespace diarkis
