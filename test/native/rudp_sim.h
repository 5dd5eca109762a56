// Test helpers for the RUDP layer: a seeded lossy link, a simulated server built
// on ReliableChannel, and a harness that drives a UdpSession against it under a
// fake clock. No sockets, no sleeping: time jumps to the next event.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "diarkis/event.h"
#include "diarkis/stats.h"
#include "rudp/datagram.h"
#include "rudp/fragment.h"
#include "rudp/reliable.h"
#include "rudp/udp_session.h"
#include "session/send_budget.h"

namespace rudp_test {

using diarkis::Bytes;
namespace rudp = diarkis::rudp;
namespace wire = diarkis::wire;

inline diarkis::SessionKeys testKeys(bool encrypted = true) {
  diarkis::SessionKeys k;
  for (uint8_t i = 0; i < 16; ++i) {
    k.sid[i] = static_cast<uint8_t>(0xA0 + i);
    k.key[i] = static_cast<uint8_t>(0x10 + i);
    k.iv[i] = static_cast<uint8_t>(0x30 + i);
    k.macKey[i] = static_cast<uint8_t>(0x50 + i);
  }
  k.encrypted = encrypted;
  return k;
}

inline Bytes u32(uint32_t v) {
  return Bytes{static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
               static_cast<uint8_t>(v)};
}
inline uint32_t getU32(const Bytes& b) {
  return b.size() < 4 ? 0xFFFFFFFFu
                      : (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}
inline void putF64LE(Bytes& out, double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}
inline double getF64LE(const uint8_t* p) {
  uint64_t bits = 0;
  for (int i = 7; i >= 0; --i) bits = (bits << 8) | p[i];
  double v = 0;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
inline rudp::Flag flagOf(const Bytes& d) { return static_cast<rudp::Flag>(d.size() >= 4 ? d[3] : 0); }
inline uint32_t seqOf(const Bytes& d) { return uint32_t{d[0]} | (uint32_t{d[1]} << 8) | (uint32_t{d[2]} << 16); }

struct Conditions {
  double loss = 0;       // probability a datagram is lost
  double reorder = 0;    // probability it takes a longer path
  double duplicate = 0;  // probability it arrives twice
  double delayMs = 20;   // one-way delay
};

// One direction of a link. Same-time arrivals keep their sending order.
class Link {
 public:
  Link(Conditions c, uint32_t seed) : c_(c), rng_(seed) {}
  void send(Bytes d, double now) {
    if (chance(c_.loss)) return;
    const int copies = chance(c_.duplicate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      double at = now + c_.delayMs;
      if (chance(c_.reorder)) at += c_.delayMs * (1.0 + 4.0 * unit());
      q_.emplace(at, i + 1 < copies ? d : std::move(d));
    }
  }
  double next() const { return q_.empty() ? diarkis::UdpSession::kNoDeadline : q_.begin()->first; }
  bool pop(double now, Bytes& out) {
    if (q_.empty() || q_.begin()->first > now) return false;
    out = std::move(q_.begin()->second);
    q_.erase(q_.begin());
    return true;
  }

 private:
  double unit() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }
  bool chance(double p) { return p > 0 && unit() < p; }
  Conditions c_;
  std::mt19937 rng_;
  std::multimap<double, Bytes> q_;
};

struct Received {
  uint8_t ver = 0;
  uint16_t cmd = 0;
  Bytes body;
};

// A simulated server side: handshake, the reliable channel (server records,
// first message DAT S + RDAT S cleared only by RACK S), request decoding with
// fragment reassembly, echo answers, pushes, FIN and terminate.
class SimServer {
 public:
  SimServer(const diarkis::SessionKeys& keys, rudp::ReliableConfig cfg, uint32_t seed)
      : keys_(keys), crypto_(keys), channel_(withServerRules(std::move(cfg)), stats), rng_(seed) {}

  diarkis::Stats stats;
  std::vector<Received> requests;  // application requests, in delivery order
  std::vector<std::string> clientKeys;
  uint32_t synCount = 0;
  uint32_t echoCount = 0;
  bool answerSyn = true;
  int64_t fixedInitialSeq = -1;  // >= 0: use this S instead of a random one
  bool answerEcho = true;
  bool packing = true;       // false: one DAT per message, as a peer that does not pack
  uint8_t nodeState = wire::kNodeOnline;
  std::string publicAddress = "203.0.113.7:40000";
  Bytes notifications;       // raw notification records for the next echo answers
  uint32_t reliableBeforeHandshake = 0;  // DAT/RDAT emitted before the handshake completed
  std::vector<Bytes> lastEchoBody;       // echo request bodies received

  bool handshaked() const { return handshaked_; }
  uint32_t initialSeq() const { return s_; }
  const rudp::ReliableChannel& channel() const { return channel_; }

  void onDatagram(const Bytes& d, double now) {
    rudp::Header h;
    diarkis::DropReason r;
    if (!rudp::decodeHeader(d.data(), d.size(), h, r)) return;
    const uint8_t* body = d.data() + 4;
    const size_t n = d.size() - 4;
    switch (h.flag) {
      case rudp::Flag::Syn:
        ++synCount;
        if (n != wire::kSidSize || std::memcmp(body, keys_.sid.data(), n) != 0) return;
        if (!haveS_) {
          s_ = fixedInitialSeq >= 0 ? static_cast<uint32_t>(fixedInitialSeq)
                                    : std::uniform_int_distribution<uint32_t>(0, rudp::kSeqMask)(rng_);
          haveS_ = true;
        }
        if (answerSyn) emitRaw(synAnswer());
        return;
      case rudp::Flag::Ack:
      case rudp::Flag::Rack: {
        std::vector<rudp::AckRecord> recs;
        std::vector<Bytes> sids;
        if (!rudp::decodeAckRecords(d.data(), d.size(), rudp::kClientRecordSize, recs, r, &sids)) return;
        for (size_t i = 0; i < recs.size(); ++i) {
          if (std::memcmp(sids[i].data(), keys_.sid.data(), 16) != 0) continue;
          if (!handshaked_ && haveS_ && !recs[i].rack && recs[i].seq == s_) {
            complete(now);
            continue;
          }
          if (handshaked_) channel_.onAck(recs[i], now);
        }
        break;
      }
      case rudp::Flag::Dat:
      case rudp::Flag::Rdat:
        if (!haveS_) return;
        if (!handshaked_) complete(now);  // an authenticated client DAT completes it too
        channel_.onData(h.seq, h.flag == rudp::Flag::Rdat, body, n, now);
        break;
      case rudp::Flag::Fin:
        finReceived = true;
        return;
      default:
        return;
    }
    drain(now);
  }
  bool finReceived = false;

  void onTimer(double now) {
    channel_.onTimer(now);
    drain(now);
  }
  double nextDeadline() const { return channel_.nextDeadline(); }

  // Reliable response/push. Cut into chunks above 1300 bytes.
  void sendPacket(uint8_t ver, uint16_t cmd, uint8_t status, const Bytes& body, double now) {
    Bytes sealed;
    crypto_.seal(body.data(), body.size(), sealed);
    Bytes packet;
    diarkis::appendResponse(packet, ver, cmd, status, sealed.data(), sealed.size());
    sendEncoded(std::move(packet), now);
  }
  void sendEncoded(Bytes packet, double now) {
    if (frag_.needsCut(packet.size())) {
      std::vector<Bytes> chunks;
      frag_.cut(packet.data(), packet.size(), chunks);
      for (Bytes& c : chunks) channel_.send(std::move(c), false, now, true);  // a chunk is its own DAT
    } else {
      const bool chunk = rudp::isChunk(packet.data(), packet.size());  // hand-made chunks in tests
      channel_.send(std::move(packet), false, now, chunk || !packing);
    }
    drain(now);
  }
  void push(uint8_t ver, uint16_t cmd, const Bytes& body, double now) {
    sendPacket(ver, cmd, wire::kStatusPush, body, now);
  }
  void sendUnreliable(uint8_t ver, uint16_t cmd, uint8_t status, const Bytes& body) {
    Bytes sealed;
    crypto_.seal(body.data(), body.size(), sealed);
    Bytes d;
    rudp::appendHeader(d, 0, rudp::Flag::Udp);
    diarkis::appendResponse(d, ver, cmd, status, sealed.data(), sealed.size());
    emitRaw(std::move(d));
  }
  void sendFin() {
    Bytes d;
    rudp::appendHeader(d, 0, rudp::Flag::Fin);
    emitRaw(std::move(d));
  }
  void sendTerminate() { emitRaw(Bytes(rudp::kTerminate, rudp::kTerminate + 4)); }
  // After whatever the channel holds, so a FIN does not overtake a packed DAT.
  void emitRaw(Bytes d) {
    std::vector<Bytes> dg;
    channel_.takeDatagrams(dg);
    for (Bytes& x : dg) out_.push_back(std::move(x));
    out_.push_back(std::move(d));
  }
  Bytes synAnswer() const {
    Bytes d;
    rudp::appendHeader(d, s_, rudp::Flag::Syn);
    return d;
  }
  Bytes echoAnswerBody(double ts) const {
    Bytes b{nodeState};
    putF64LE(b, ts);
    b.insert(b.end(), publicAddress.begin(), publicAddress.end());
    const auto addressEnd = static_cast<uint16_t>(b.size());
    b.insert(b.end(), notifications.begin(), notifications.end());
    b.push_back(static_cast<uint8_t>(addressEnd >> 8));
    b.push_back(static_cast<uint8_t>(addressEnd));
    return b;
  }

  // The end of the server's loop turn: the partly packed DAT and the ACKs go too.
  std::vector<Bytes> take() {
    std::vector<Bytes> dg;
    channel_.takeDatagrams(dg);
    for (Bytes& d : dg) out_.push_back(std::move(d));
    std::vector<Bytes> out;
    out.swap(out_);
    return out;
  }

 private:
  static rudp::ReliableConfig withServerRules(rudp::ReliableConfig c) {
    c.firstNeedsRack = true;
    c.ackSuffix.clear();
    return c;
  }
  void complete(double now) {
    handshaked_ = true;
    channel_.start(s_, 0, now);
  }
  void drain(double now) {
    std::vector<Bytes> dg;
    channel_.takeReadyDatagrams(dg);
    for (Bytes& d : dg) {
      const rudp::Flag f = flagOf(d);
      if (!handshaked_ && (f == rudp::Flag::Dat || f == rudp::Flag::Rdat)) ++reliableBeforeHandshake;
      out_.push_back(std::move(d));
    }
    std::vector<Bytes> bodies;
    channel_.takeDelivered(bodies);
    for (const Bytes& b : bodies) onRequestBytes(b, now);
    if (!bodies.empty()) drain(now);
  }
  // A DAT body: request packets back to back (PROTOCOL section 1), or one wrapped chunk.
  void onRequestBytes(const Bytes& b, double now) {
    size_t off = 0;
    while (off < b.size()) {
      diarkis::Packet p;
      const auto r = diarkis::parseRequest(b.data() + off, b.size() - off, wire::kDefaultMaxPayload, p);
      if (r.status != diarkis::ParseStatus::Ok) return;
      off += r.consumed;
      onRequest(p, now);
    }
  }
  void onRequest(diarkis::Packet& p, double now) {
    if (p.payload.size() < 16) return;
    if (std::memcmp(p.payload.data(), keys_.sid.data(), 16) != 0) return;
    const uint8_t* rest = p.payload.data() + 16;
    const size_t restLen = p.payload.size() - 16;
    if (rudp::isChunk(rest, restLen)) {
      Bytes whole;
      if (reasm_.add(rest, restLen, whole) == rudp::Reassembler::Result::Complete) {
        onRequestBytes(whole, now);
      }
      return;
    }
    Bytes body;
    diarkis::DropReason reason;
    if (!crypto_.open(rest, restLen, body, reason)) return;
    if (p.ver == 0 && p.cmd == wire::kCmdKeepAlive) {
      ++echoCount;
      lastEchoBody.push_back(body);
      if (answerEcho && body.size() >= 8) {
        sendPacket(0, wire::kCmdKeepAlive, wire::kStatusOk, echoAnswerBody(getF64LE(body.data())), now);
      }
      return;
    }
    if (p.ver == 0 && p.cmd == wire::kCmdClientKey) {
      clientKeys.emplace_back(body.begin(), body.end());
      return;
    }
    requests.push_back(Received{p.ver, p.cmd, std::move(body)});
  }

  diarkis::SessionKeys keys_;
  diarkis::SessionCrypto crypto_;
  rudp::ReliableChannel channel_;
  rudp::Fragmenter frag_;
  rudp::Reassembler reasm_{wire::kDefaultMaxPayload + 64};
  std::mt19937 rng_;
  bool haveS_ = false;
  uint32_t s_ = 0;
  bool handshaked_ = false;
  std::vector<Bytes> out_;
};

inline rudp::ReliableConfig serverConfig(const diarkis::UdpOptions& o) {
  rudp::ReliableConfig c;
  c.retryMinMs = o.retryMinMs;
  c.retryMaxMs = o.retryMaxMs;
  c.maxRetries = o.maxRetries;
  c.adaptive = o.adaptive;
  c.rtoMinMs = o.rtoMinMs;
  c.sendWindow = o.sendWindow;
  c.recvWindow = o.recvWindow;
  c.maxDatagramBody = o.maxDatagramBody;
  return c;
}

// Client session + simulated server over two seeded links, under a fake clock.
class Harness {
 public:
  Harness(const diarkis::UdpOptions& o, Conditions c, uint32_t seed, bool encrypted = true)
      : keys(testKeys(encrypted)),
        budget(clientStats, o.highWaterMark, o.maxQueuedBytes),
        client(o, keys, clientStats, budget),
        server(keys, serverConfig(o), seed * 7 + 1),
        up(c, seed * 13 + 2),
        down(c, seed * 17 + 3) {}

  diarkis::SessionKeys keys;
  diarkis::Stats clientStats;
  diarkis::SendBudget budget;
  diarkis::UdpSession client;
  SimServer server;
  Link up;    // client -> server
  Link down;  // server -> client
  double now = 0;
  std::vector<diarkis::Event> events;
  std::vector<Bytes> clientSent;  // every datagram the client emitted, for inspection
  // Extra delay of the server's ACK datagrams: a peer that paces its ACKs and answers before it
  // acknowledges (our node paces them at 4 ms); the simulated server would send them at once.
  double serverAckHoldMs = 0;

  void flush() {
    std::vector<Bytes> dg;
    client.takeDatagrams(dg);
    for (Bytes& d : dg) {
      clientSent.push_back(d);
      up.send(std::move(d), now);
    }
    for (Bytes& d : server.take()) {
      const double at = serverAckHoldMs > 0 && flagOf(d) == rudp::Flag::Ack ? now + serverAckHoldMs : now;
      down.send(std::move(d), at);
    }
    client.takeEvents(events);
  }

  // Advance to the next event (delivery or timer) and handle everything due.
  // False when nothing at all is scheduled.
  bool step() {
    flush();
    const double t = std::min({up.next(), down.next(), client.nextDeadline(), server.nextDeadline()});
    if (t == diarkis::UdpSession::kNoDeadline) return false;
    now = std::max(now, t);
    Bytes d;
    while (down.pop(now, d)) {
      client.onDatagram(d.data(), d.size(), now);
      flush();
    }
    while (up.pop(now, d)) {
      server.onDatagram(d, now);
      flush();
    }
    if (client.nextDeadline() <= now) client.onTimer(now);
    if (server.nextDeadline() <= now) server.onTimer(now);
    flush();
    return true;
  }

  template <typename Pred>
  bool runUntil(Pred done, double maxMs) {
    const double end = now + maxMs;
    while (!done()) {
      if (now > end || !step()) return done();
    }
    return true;
  }
  void runFor(double ms) {
    const double end = now + ms;
    while (true) {
      flush();
      const double t = std::min({up.next(), down.next(), client.nextDeadline(), server.nextDeadline()});
      if (t > end) break;
      step();
    }
    now = std::max(now, end);
  }

  size_t count(diarkis::EventType t) const {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(),
                                             [t](const diarkis::Event& e) { return e.type == t; }));
  }
  const diarkis::Event* last(diarkis::EventType t) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->type == t) return &*it;
    }
    return nullptr;
  }
  uint64_t drops(diarkis::DropReason r) const {
    return clientStats.drops[static_cast<size_t>(r)].load();
  }
};

}  // namespace rudp_test
