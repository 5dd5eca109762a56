// Transport header, ACK/RACK records and 24-bit sequence arithmetic.
#include <gtest/gtest.h>

#include "rudp/datagram.h"

namespace diarkis {
namespace rudp {
namespace {

TEST(RudpDatagram, HeaderIsLittleEndianSeqThenFlag) {
  Bytes d;
  appendHeader(d, 0x123456, Flag::Dat);
  EXPECT_EQ(d, (Bytes{0x56, 0x34, 0x12, 0x03}));
  Header h;
  DropReason r;
  ASSERT_TRUE(decodeHeader(d.data(), d.size(), h, r));
  EXPECT_EQ(h.seq, 0x123456u);
  EXPECT_EQ(h.flag, Flag::Dat);
}

TEST(RudpDatagram, HeaderRoundTripEveryFlagAndEdgeSeqs) {
  for (uint8_t f = 1; f <= 7; ++f) {
    for (uint32_t seq : {0u, 1u, 0xFFu, 0x100u, 0x7FFFFFu, 0x800000u, 0xFFFFFFu}) {
      Bytes d;
      appendHeader(d, seq, static_cast<Flag>(f));
      Header h;
      DropReason r;
      ASSERT_TRUE(decodeHeader(d.data(), d.size(), h, r));
      EXPECT_EQ(h.seq, seq);
      EXPECT_EQ(static_cast<uint8_t>(h.flag), f);
    }
  }
}

TEST(RudpDatagram, SeqAboveTwentyFourBitsIsMasked) {
  Bytes d;
  appendHeader(d, 0x1000005, Flag::Ack);
  EXPECT_EQ(d, (Bytes{0x05, 0x00, 0x00, 0x04}));
}

TEST(RudpDatagram, BadHeadersAreReported) {
  Header h;
  DropReason r = DropReason::Unexpected;
  const uint8_t shortOne[3] = {1, 2, 3};
  EXPECT_FALSE(decodeHeader(shortOne, 3, h, r));
  EXPECT_EQ(r, DropReason::Truncated);
  for (uint8_t f : {uint8_t{0}, uint8_t{8}, uint8_t{0x0D}, uint8_t{0xFF}}) {
    const uint8_t d[4] = {0, 0, 0, f};
    EXPECT_FALSE(decodeHeader(d, 4, h, r));
    EXPECT_EQ(r, DropReason::UnknownFlag);
  }
}

TEST(RudpDatagram, TerminateIsNotAHeader) {
  EXPECT_TRUE(isTerminate(kTerminate, 4));
  const uint8_t longer[5] = {0x0D, 0x0E, 0x0A, 0x0D, 0};
  EXPECT_FALSE(isTerminate(longer, 5));
  Header h;
  DropReason r;
  EXPECT_FALSE(decodeHeader(kTerminate, 4, h, r));
}

TEST(RudpDatagram, SerialArithmeticWraps) {
  EXPECT_EQ(seqAdd(0xFFFFFF, 1), 0u);
  EXPECT_EQ(seqAdd(0xFFFFFE, 5), 3u);
  EXPECT_EQ(seqDiff(0, 0xFFFFFF), 1);
  EXPECT_EQ(seqDiff(0xFFFFFF, 0), -1);
  EXPECT_EQ(seqDiff(5, 5), 0);
  EXPECT_TRUE(seqLess(0xFFFFF0, 3));
  EXPECT_FALSE(seqLess(3, 0xFFFFF0));
  // Half the space ahead is "ahead"; exactly half is "behind".
  EXPECT_EQ(seqDiff(0x7FFFFF, 0), 0x7FFFFF);
  EXPECT_EQ(seqDiff(0x800000, 0), -0x800000);
  for (uint32_t base : {0u, 0x7FFFF0u, 0xFFFFF0u}) {
    for (uint32_t k = 0; k < 40; ++k) {
      EXPECT_EQ(seqDiff(seqAdd(base, k), base), static_cast<int32_t>(k));
      EXPECT_EQ(seqDiff(base, seqAdd(base, k)), -static_cast<int32_t>(k));
    }
  }
}

TEST(RudpDatagram, ClientRecordsCarrySidAndMixAckRack) {
  const Bytes sid(16, 0xAB);
  Bytes d;
  appendAckRecord(d, 7, false, sid.data(), sid.size());
  appendAckRecord(d, 0xFFFFFF, true, sid.data(), sid.size());
  appendAckRecord(d, 0, false, sid.data(), sid.size());
  ASSERT_EQ(d.size(), 3 * kClientRecordSize);
  std::vector<AckRecord> recs;
  std::vector<Bytes> sids;
  DropReason r;
  ASSERT_TRUE(decodeAckRecords(d.data(), d.size(), kClientRecordSize, recs, r, &sids));
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].seq, 7u);
  EXPECT_FALSE(recs[0].rack);
  EXPECT_EQ(recs[1].seq, 0xFFFFFFu);
  EXPECT_TRUE(recs[1].rack);
  EXPECT_EQ(recs[2].seq, 0u);
  for (const Bytes& s : sids) EXPECT_EQ(s, sid);
}

TEST(RudpDatagram, ServerRecordsAreFourBytes) {
  Bytes d;
  appendAckRecord(d, 0x010203, true, nullptr, 0);
  appendAckRecord(d, 9, false, nullptr, 0);
  EXPECT_EQ(d, (Bytes{0x03, 0x02, 0x01, 0x06, 0x09, 0x00, 0x00, 0x04}));
  std::vector<AckRecord> recs;
  DropReason r;
  ASSERT_TRUE(decodeAckRecords(d.data(), d.size(), kServerRecordSize, recs, r));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_TRUE(recs[0].rack);
  EXPECT_EQ(recs[1].seq, 9u);
}

TEST(RudpDatagram, MalformedRecordListsFail) {
  std::vector<AckRecord> recs;
  DropReason r = DropReason::Unexpected;
  Bytes d;
  appendAckRecord(d, 1, false, nullptr, 0);
  d.push_back(0);  // partial record
  EXPECT_FALSE(decodeAckRecords(d.data(), d.size(), kServerRecordSize, recs, r));
  EXPECT_EQ(r, DropReason::Truncated);
  recs.clear();
  Bytes mixed;
  appendAckRecord(mixed, 1, false, nullptr, 0);
  appendHeader(mixed, 2, Flag::Dat);  // records and nothing else
  EXPECT_FALSE(decodeAckRecords(mixed.data(), mixed.size(), kServerRecordSize, recs, r));
  EXPECT_EQ(r, DropReason::UnknownFlag);
  EXPECT_EQ(recs.size(), 1u);
  recs.clear();
  EXPECT_FALSE(decodeAckRecords(mixed.data(), 0, kServerRecordSize, recs, r));
  const Bytes sid(16, 1);
  Bytes client;
  appendAckRecord(client, 1, false, sid.data(), sid.size());
  EXPECT_FALSE(decodeAckRecords(client.data(), client.size() - 1, kClientRecordSize, recs, r));
}

}  // namespace
}  // namespace rudp
}  // namespace diarkis
