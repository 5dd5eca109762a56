// libFuzzer target for everything in the RUDP layer that reads untrusted bytes:
// transport headers and ACK/RACK record lists, fragment reassembly, and the
// client UdpSession fed arbitrary datagrams and timer ticks after a handshake,
// its receive pause toggled (record 0xEC) as a host's backlog would, sealed
// response/push packets in DATs at chosen sequence numbers (record 0xEB, so the
// encrypted session's packet paths are reached), and with byte 0's bit 4 its
// application packets going to an EventQueue's arena through a PacketSink.
// Invariants are checked with abort() so that they hold in every build type.
//
// Input: byte 0 picks the mode (% 4; bit 4: a sink); the rest is a list of records
// `len:uint16 BE || bytes` (a truncated last record takes what is left).
//   0xEB seq ver cmd:uint16 status body: a DAT at S + seq carrying the sealed packet
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "diarkis/stats.h"
#include "events/event_queue.h"
#include "../native/queue_sink.h"
#include "fuzz_common.h"
#include "rudp/datagram.h"
#include "rudp/fragment.h"
#include "rudp/udp_session.h"
#include "session/send_budget.h"

namespace {

using diarkis::Bytes;
namespace rudp = diarkis::rudp;
using fuzz::check;
using fuzz::records;

void fuzzDatagram(const uint8_t* data, size_t len) {
  rudp::Header h;
  diarkis::DropReason reason;
  if (rudp::decodeHeader(data, len, h, reason)) {
    check(h.seq <= rudp::kSeqMask);
    Bytes again;
    rudp::appendHeader(again, h.seq, h.flag);
    check(std::equal(again.begin(), again.end(), data));
  }
  for (size_t size : {rudp::kServerRecordSize, rudp::kClientRecordSize}) {
    std::vector<rudp::AckRecord> recs;
    std::vector<Bytes> suffixes;
    const bool ok = rudp::decodeAckRecords(data, len, size, recs, reason, &suffixes);
    check(recs.size() * size <= len);
    check(suffixes.size() == recs.size());
    if (ok) check(recs.size() * size == len);
  }
  check(rudp::seqDiff(h.seq, rudp::seqAdd(h.seq, 5)) == -5);
}

void fuzzReassembly(const uint8_t* data, size_t len) {
  rudp::Reassembler r(20000, 1300);
  for (const Bytes& c : records(data, len)) {
    Bytes out;
    const auto res = r.add(c.data(), c.size(), out);
    if (res == rudp::Reassembler::Result::Complete) check(out.size() <= 20000);
    check(r.heldBytes() <= 20000);
    check(r.pending() <= 1);
  }
}

using diarkis::test::QueueSink;  // test/native/queue_sink.h

constexpr uint32_t kServerSeq = 0xFFFFF8;  // close to the wrap

// Record 0xEB: seq ver cmd:uint16 status body -> a DAT at kServerSeq + seq with the packet, sealed.
Bytes sealedDat(const Bytes& d, diarkis::SessionCrypto& server) {
  Bytes out;
  if (d.size() < 6) return out;
  rudp::appendHeader(out, rudp::seqAdd(kServerSeq, d[1]), rudp::Flag::Dat);
  Bytes sealed;
  server.seal(d.data() + 6, d.size() - 6, sealed);
  diarkis::appendResponse(out, d[2], static_cast<uint16_t>((d[3] << 8) | d[4]), d[5], sealed.data(), sealed.size());
  return out;
}

void fuzzSession(const uint8_t* data, size_t len, bool encrypted, bool withSink) {
  diarkis::UdpOptions o;
  o.maxPayload = 4096;
  o.sendWindow = 8;
  o.recvWindow = 16;
  const diarkis::SessionKeys keys = fuzz::fixedKeys(encrypted);
  diarkis::SessionCrypto server(keys);
  diarkis::Stats stats;
  diarkis::SendBudget budget(stats, o.highWaterMark, o.maxQueuedBytes);
  diarkis::UdpSession s(o, keys, stats, budget);
  QueueSink sink;
  if (withSink) s.setPacketSink(&sink, 1);
  diarkis::QueueBatch packets;
  double now = 0;
  s.start(now);
  Bytes syn;
  rudp::appendHeader(syn, kServerSeq, rudp::Flag::Syn);
  s.onDatagram(syn.data(), syn.size(), now);
  std::vector<Bytes> out;
  std::vector<diarkis::Event> events;
  const uint8_t body[3] = {1, 2, 3};
  for (const Bytes& d : records(data, len)) {
    // A record starting with 0xEE advances the clock instead of arriving.
    if (!d.empty() && d[0] == 0xEE) {
      now += d.size() > 1 ? d[1] * 100.0 : 1000.0;
      if (s.nextDeadline() <= now) s.onTimer(now);
    } else if (!d.empty() && d[0] == 0xED) {
      s.send(2, 1, body, sizeof body, d.size() > 1 && (d[1] & 1), now);
    } else if (!d.empty() && d[0] == 0xEC) {
      s.setReceivePaused(d.size() > 1 && (d[1] & 1), now);  // the receive high-water mark
    } else if (!d.empty() && d[0] == 0xEB) {
      const Bytes dat = sealedDat(d, server);
      s.onDatagram(dat.data(), dat.size(), now);
    } else {
      s.onDatagram(d.data(), d.size(), now);
    }
    if (s.closed()) check(s.nextDeadline() == diarkis::UdpSession::kNoDeadline);
    s.takeDatagrams(out);
    s.takeEvents(events);
    for (const Bytes& dg : out) check(dg.size() <= rudp::kHeaderSize + 1400);
    out.clear();
    // Every packet's payload lies inside the arena handed over, and nothing stays counted.
    sink.q.take(packets, 1u << 20);
    for (const auto& p : packets.rows) {
      check(p.packet && p.at + p.length <= packets.arena.size());
      check(p.length <= o.maxPayload && p.ver != 0);
    }
    check(sink.q.stats().bytes == 0);
  }
  size_t disconnects = 0;
  for (const auto& e : events) disconnects += e.type == diarkis::EventType::Disconnect ? 1 : 0;
  check(disconnects <= 1);
  s.close(false, now);
  s.takeEvents(events);
  disconnects = 0;
  for (const auto& e : events) disconnects += e.type == diarkis::EventType::Disconnect ? 1 : 0;
  check(disconnects == 1);
  check(budget.queued() == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  const bool withSink = (data[0] & 0x10) != 0;
  data += 1;
  size -= 1;
  switch (mode) {
    case 0:
      fuzzDatagram(data, size);
      break;
    case 1:
      fuzzReassembly(data, size);
      break;
    case 2:
      fuzzSession(data, size, false, withSink);
      break;
    default:
      fuzzSession(data, size, true, withSink);
      break;
  }
  return 0;
}
