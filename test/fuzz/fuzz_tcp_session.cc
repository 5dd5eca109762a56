// libFuzzer target for the sans-I/O TcpSession: arbitrary server byte streams,
// delivered in input-chosen chunks, with a fake clock, over unencrypted and
// encrypted keys, in the connecting, connected and migrating states. Invariants
// are checked with abort() so that they hold in every build type.
//
// Input: byte 0 holds flags (bit 0 encrypted, bit 1 answer the opening heartbeat,
// bit 2 SendMigrate first, bit 3 autoMigrate, bit 4 application packets go to an
// EventQueue's arena through a PacketSink, as on the Node host); the rest is a list of records
// `len:uint16 BE || op || args` (a truncated last record takes what is left).
//   op 0: raw stream bytes (arg 0 seeds the chunk sizes)
//   op 1: one response packet ver || cmd:uint16 BE || status || body, the body
//         sealed with the session keys -- with encryption on, random bytes never
//         pass the MAC, so this is how the built-in parsers are reached there
//   op 2: the clock advances by arg*50 ms (1 s without arg), due timers fire
//   op 3: a socket event (arg % 6): EOF, error, output written, the socket
//         action and connect requests served, SendMigrate, partial write
//   op 4: an application request;  op 5: close (arg bit 0: graceful)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "diarkis/event.h"
#include "diarkis/stats.h"
#include "events/event_queue.h"
#include "../native/queue_sink.h"
#include "fuzz_common.h"
#include "session/send_budget.h"
#include "session/tcp_session.h"

namespace {

using diarkis::Bytes;
using diarkis::EventType;
using diarkis::TcpSession;
namespace wire = diarkis::wire;
using fuzz::check;
using fuzz::fixedKeys;
using fuzz::records;

using diarkis::test::QueueSink;  // test/native/queue_sink.h

struct Harness {
  explicit Harness(uint8_t flags)
      : opts(makeOptions(flags)), keys(fixedKeys(flags & 1)), budget(stats, opts.highWaterMark, opts.maxQueuedBytes),
        s(opts, keys, stats, budget), server(keys) {
    if (flags & 16) s.setPacketSink(&sink, 1);
  }

  static diarkis::TcpOptions makeOptions(uint8_t flags) {
    diarkis::TcpOptions o;
    o.maxPayload = 4096;  // small, so that TooLarge is cheap to reach
    o.highWaterMark = 2048;
    o.maxQueuedBytes = 8192;
    o.autoMigrate = (flags & 8) != 0;
    o.handoffTtlMs = 3000;
    o.rngSeed = 7;  // reproducible backoff
    return o;
  }

  // Feeds bytes in chunks of 1..64 whose sizes come from `seed` and the bytes themselves.
  void deliver(const Bytes& b, uint8_t seed) {
    size_t pos = 0;
    size_t i = seed;
    while (pos < b.size() && !s.closed()) {
      const size_t chunk = 1 + (b[i++ % b.size()] ^ seed) % 64;
      const size_t n = chunk < b.size() - pos ? chunk : b.size() - pos;
      s.onData(b.data() + pos, n, now);
      pos += n;
      after();
    }
  }

  void packet(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* body, size_t len, uint8_t seed) {
    Bytes sealed;
    server.seal(body, len, sealed);
    Bytes pkt;
    diarkis::appendResponse(pkt, ver, cmd, status, sealed.data(), sealed.size());
    deliver(pkt, seed);
  }

  void advance(double ms) {
    now += ms;
    for (int guard = 0; guard < 64 && s.nextDeadline() <= now; ++guard) {
      s.onTimer(now);
      after();
    }
  }

  // What the owner (DiarkisTcpBase) does with the session's socket requests.
  void serveSocket() {
    s.takeSocketAction();
    std::string host;
    uint16_t port = 0;
    if (s.takeConnect(host, port)) {
      check(!host.empty() && port != 0);
      s.onSocketConnected(now);
    }
    after();
  }

  void write(size_t n) {
    s.consumeOutput(n < s.outputSize() ? n : s.outputSize(), now);
    after();
  }

  void after() {
    s.takeEvents(events);
    // Every packet's payload lies inside the arena handed over, and nothing stays counted.
    sink.q.take(packets, 1u << 20);
    for (const auto& p : packets.rows) check(p.packet && p.at + p.length <= packets.arena.size());
    check(sink.q.stats().bytes == 0);
    if (s.closed()) check(s.nextDeadline() == TcpSession::kNoDeadline);
  }

  size_t disconnects() const {
    size_t n = 0;
    for (const auto& e : events) n += e.type == EventType::Disconnect ? 1 : 0;
    return n;
  }

  diarkis::TcpOptions opts;
  diarkis::SessionKeys keys;
  diarkis::Stats stats;
  diarkis::SendBudget budget;
  TcpSession s;
  diarkis::SessionCrypto server;  // the server's side of the same keys
  double now = 0;
  std::vector<diarkis::Event> events;
  QueueSink sink;
  diarkis::QueueBatch packets;
};

void socketEvent(Harness& h, uint8_t what) {
  switch (what % 6) {
    case 0:
      h.s.onEof(h.now);
      break;
    case 1:
      h.s.onSocketError(diarkis::ErrorCode::NetworkError, "fuzz", h.now);
      break;
    case 2:
      h.write(h.s.outputSize());
      return;
    case 3:
      h.serveSocket();
      return;
    case 4:
      h.s.sendMigrate(h.now);
      break;
    default:
      h.write(1 + what / 6);
      return;
  }
  h.after();
}

void run(Harness& h, const uint8_t* data, size_t len) {
  const uint8_t body[3] = {1, 2, 3};
  for (const Bytes& r : records(data, len)) {
    if (r.empty()) continue;
    const uint8_t arg = r.size() > 1 ? r[1] : 0;
    switch (r[0] % 6) {
      case 0:
        if (r.size() > 2) h.deliver(Bytes(r.begin() + 2, r.end()), arg);
        break;
      case 1:
        if (r.size() >= 5) {
          // Built-in commands are what the session parses itself: keep most of them there.
          const auto cmd = static_cast<uint16_t>(r[1] == 0 ? r[3] % 5 : (r[2] << 8 | r[3]));
          h.packet(r[1], cmd, r[4], r.data() + 5, r.size() - 5, r[2]);
        }
        break;
      case 2:
        h.advance(r.size() > 1 ? arg * 50.0 : 1000.0);
        break;
      case 3:
        socketEvent(h, arg);
        break;
      case 4:
        // arg >= 0xF0: the receive high-water mark pauses (odd) or resumes (even) reading.
        if (arg >= 0xF0) h.s.setReceivePaused((arg & 1) != 0, h.now);
        else h.s.send(2, arg, body, sizeof body);
        h.after();
        break;
      default:
        h.s.close((arg & 1) != 0, h.now);
        h.after();
        break;
    }
    check(h.disconnects() <= 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  Harness h(flags);
  h.s.start(h.now);
  h.s.onSocketConnected(h.now);
  h.s.setPeerName("127.0.0.1:1");
  h.write(h.s.outputSize());
  if (flags & 2) {
    // The opening heartbeat answered: Connected, so that migration can start.
    uint8_t hb[9] = {wire::kNodeOnline, 0, 0, 0, 0, 0, 0, 0, 0};
    h.packet(wire::kVerBuiltin, wire::kCmdKeepAlive, wire::kStatusOk, hb, sizeof hb, 0);
    check(h.s.state() == diarkis::ClientState::Connected);
    if (flags & 4) {
      check(h.s.sendMigrate(h.now) == diarkis::ErrorCode::None);
      check(h.s.state() == diarkis::ClientState::Migrating);
      h.write(h.s.outputSize());
    }
  }
  run(h, data + 1, size - 1);
  h.s.close(false, h.now);
  h.after();
  check(h.disconnects() == 1);
  check(h.s.closed());
  check(h.budget.queued() == 0);
  return 0;
}
