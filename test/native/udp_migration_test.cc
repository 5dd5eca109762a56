// UdpSession live migration (PROTOCOL section 7) against two simulated nodes
// under a fake clock: the old node answers the migrate request, the target
// answers the claim. The harness plays the owner: it follows the session's link
// actions (OpenTarget, CloseOldLink) and routes the old link's datagrams.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "rudp_sim.h"

namespace diarkis {
namespace {

using rudp_test::Bytes;
using rudp_test::Conditions;
using rudp_test::Link;
using rudp_test::SimServer;
using rudp_test::flagOf;
using rudp_test::getU32;
using rudp_test::seqOf;
using rudp_test::u32;

constexpr const char* kTarget = "10.0.0.2:7200";

UdpOptions migOptions() {
  UdpOptions o;
  o.connectTimeoutMs = 2000;
  o.retryMinMs = 200;
  o.retryMaxMs = 1000;
  o.handoffTtlMs = 5000;
  o.migrateRetryMinMs = 100;
  o.migrateRetryMaxMs = 800;
  o.lingerMs = 3000;
  o.rngSeed = 42;
  return o;
}

Bytes ticket() {
  Bytes t;
  for (uint8_t i = 0; i < 16; ++i) t.push_back(static_cast<uint8_t>(0xC0 + i));
  return t;
}

struct Sent {
  bool toTarget;
  double at;
  Bytes d;
};

class MigHarness {
 public:
  enum class Answer { Target, NoTarget };

  MigHarness(const UdpOptions& o, Conditions c, uint32_t seed)
      : o_(o), c_(c), seed_(seed), keys(rudp_test::testKeys()),
        budget(stats, o.highWaterMark, o.maxQueuedBytes), client(o, keys, stats, budget),
        old(std::make_unique<SimServer>(keys, rudp_test::serverConfig(o), seed * 3 + 1)),
        target(std::make_unique<SimServer>(keys, rudp_test::serverConfig(o), seed * 5 + 2)),
        oldUp(c, seed * 7 + 3), oldDown(c, seed * 11 + 4), tUp(c, seed * 13 + 5), tDown(c, seed * 17 + 6) {
    client.setPeerName("10.0.0.1:7100");
  }

  const UdpOptions o_;
  const Conditions c_;
  const uint32_t seed_;
  SessionKeys keys;
  Stats stats;
  SendBudget budget;
  UdpSession client;
  std::unique_ptr<SimServer> old;
  std::unique_ptr<SimServer> target;
  Link oldUp, oldDown, tUp, tDown;
  double now = 0;
  std::vector<Event> events;
  std::vector<Sent> sent;          // the client's datagrams, by link
  std::vector<Bytes> oldLinkSent;  // datagrams on the old link after the switch
  bool onTarget = false;           // the current socket goes to the target
  bool oldLinkOpen = false;
  int opens = 0;
  int oldCloses = 0;

  // Node behaviour.
  Answer answer = Answer::Target;
  int noTargetsFirst = 0;          // answer no-target this many times first
  int refuseClaims = 0;            // the target refuses this many claims (-1: all)
  bool targetAnswersSyn = true;
  bool oldSendsFin = true;         // careful close: FIN once all its DATs are acknowledged
  double blockOldUpUntil = -1;     // drop the client's old-link datagrams until then
  double blockOldLinkMs = 0;       // ... for this long from the old link's first datagram
  // PROTOCOL 10.2: the old node starts the migration itself (push 0/2) once it has
  // received this many requests; 0 = it waits for the client's migrate request.
  size_t pushAfterRequests = 0;
  int migrateRequests = 0;
  int claims = 0;
  int targetsCreated = 1;
  size_t claimAnsweredAtSent = 0;  // sent.size() when the claim answer was delivered
  double lastOldRequestAt = -1;    // the old node's latest new request
  double firstTargetCounterAt = -1;  // the target's first application request

  void flush() {
    std::string host;
    uint16_t port = 0;
    for (;;) {
      // Like UdpConnection: old-link datagrams taken before an action can go only
      // to an old socket that is open then (none before the first OpenTarget).
      std::vector<Bytes> early;
      client.takeOldLinkDatagrams(early);
      if (oldLinkOpen) sendOld(early);
      std::vector<Bytes> od;
      const UdpSession::LinkAction a = client.takeLinkAction(host, port, od);
      if (a == UdpSession::LinkAction::None) break;
      sendOld(od);  // the socket that becomes (or is) the old link, before the action
      if (a == UdpSession::LinkAction::OpenTarget) {
        EXPECT_EQ(host + ":" + std::to_string(port), kTarget);
        ++opens;
        onTarget = true;
        oldLinkOpen = true;
      } else {
        ++oldCloses;
        oldLinkOpen = false;
      }
    }
    std::vector<Bytes> od;
    client.takeOldLinkDatagrams(od);
    sendOld(od);
    std::vector<Bytes> dg;
    client.takeDatagrams(dg);
    for (Bytes& d : dg) {
      sent.push_back(Sent{onTarget, now, d});
      (onTarget ? tUp : oldUp).send(std::move(d), now);
    }
    for (Bytes& d : old->take()) oldDown.send(std::move(d), now);
    for (Bytes& d : target->take()) tDown.send(std::move(d), now);
    client.takeEvents(events);
  }

  void sendOld(std::vector<Bytes>& od) {
    for (Bytes& d : od) {
      if (oldLinkSent.empty() && blockOldLinkMs > 0) blockOldUpUntil = now + blockOldLinkMs;
      oldLinkSent.push_back(d);
      if (now >= blockOldUpUntil) oldUp.send(std::move(d), now);
    }
  }

  double nextTime() {
    return std::min({oldUp.next(), oldDown.next(), tUp.next(), tDown.next(), client.nextDeadline(),
                     old->nextDeadline(), target->nextDeadline()});
  }

  bool step() {
    flush();
    const double t = nextTime();
    if (t == UdpSession::kNoDeadline) return false;
    now = std::max(now, t);
    Bytes d;
    while (oldDown.pop(now, d)) {
      if (!onTarget) {
        client.onDatagram(d.data(), d.size(), now);
      } else if (oldLinkOpen) {
        client.onOldLinkDatagram(d.data(), d.size(), now);
      }
      flush();
    }
    while (tDown.pop(now, d)) {
      if (onTarget) client.onDatagram(d.data(), d.size(), now);
      flush();
    }
    while (oldUp.pop(now, d)) {
      const size_t before = old->requests.size();
      old->onDatagram(d, now);
      if (old->requests.size() > before) lastOldRequestAt = now;
      serveOld();
      flush();
    }
    while (tUp.pop(now, d)) {
      if (flagOf(d) == rudp::Flag::Syn && targetDead_) {
        target = std::make_unique<SimServer>(keys, rudp_test::serverConfig(o_), seed_ * 19 + static_cast<uint32_t>(targetsCreated));
        ++targetsCreated;
        targetDead_ = false;
        servedTarget_ = 0;
      }
      target->answerSyn = targetAnswersSyn;
      if (!targetDead_) target->onDatagram(d, now);
      if (firstTargetCounterAt < 0 && !counters(*target).empty()) firstTargetCounterAt = now;
      serveTarget();
      flush();
    }
    if (client.nextDeadline() <= now) client.onTimer(now);
    if (old->nextDeadline() <= now) old->onTimer(now);
    if (target->nextDeadline() <= now) target->onTimer(now);
    serveOld();
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

  void connect() {
    client.start(now);
    ASSERT_TRUE(runUntil([&] { return client.state() == ClientState::Connected && old->handshaked(); }, 5000));
  }

  size_t count(EventType t) const {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), [t](const Event& e) { return e.type == t; }));
  }
  const Event* last(EventType t) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->type == t) return &*it;
    }
    return nullptr;
  }
  std::vector<uint32_t> counters(const SimServer& s) const {
    std::vector<uint32_t> out;
    for (const auto& r : s.requests) {
      if (r.ver == 2 && r.cmd == 4) out.push_back(getU32(r.body));
    }
    return out;
  }
  // PROTOCOL 10.2 now: the old node pushes the migration and the client reads it at
  // once, before anything else of this turn (its partly packed DAT) leaves.
  void pushMigrationNow() {
    old->push(0, wire::kCmdReconn, migrateBody(), now);
    answeredOld_ = true;
    for (Bytes& d : old->take()) client.onDatagram(d.data(), d.size(), now);
  }
  std::vector<uint32_t> pushes() const {
    std::vector<uint32_t> out;
    for (const Event& e : events) {
      if (e.type == EventType::Push && e.ver == 2 && e.cmd == 6) out.push_back(getU32(e.payload));
    }
    return out;
  }

 private:
  // The old node: answers the migrate request (in order: it is delivered after
  // every earlier request), then closes carefully.
  void serveOld() {
    if (pushAfterRequests > 0 && !answeredOld_ && old->requests.size() >= pushAfterRequests) {
      old->push(0, wire::kCmdReconn, migrateBody(), now);
      answeredOld_ = true;
    }
    for (; servedOld_ < old->requests.size(); ++servedOld_) {
      const auto& r = old->requests[servedOld_];
      if (r.ver != 0 || r.cmd != wire::kCmdReconn) continue;
      ++migrateRequests;
      if (answer == Answer::NoTarget || noTargetsFirst > 0) {
        if (noTargetsFirst > 0) --noTargetsFirst;
        old->sendPacket(0, wire::kCmdReconn, wire::kStatusErr, Bytes{0x03, 0xEB}, now);
        continue;
      }
      old->sendPacket(0, wire::kCmdReconn, wire::kStatusOk, migrateBody(), now);
      answeredOld_ = true;
    }
    if (answeredOld_ && !finSent_ && oldSendsFin && old->channel().idle()) {
      old->sendFin();
      finSent_ = true;
    }
  }

  static Bytes migrateBody() {
    Bytes body{0, static_cast<uint8_t>(std::string(kTarget).size())};
    body.insert(body.end(), kTarget, kTarget + std::string(kTarget).size());
    const Bytes t = ticket();
    body.insert(body.end(), t.begin(), t.end());
    return body;
  }

  // The target: the claim must be the first request; answered status 1 (or refused).
  void serveTarget() {
    for (; servedTarget_ < target->requests.size(); ++servedTarget_) {
      const auto& r = target->requests[servedTarget_];
      if (servedTarget_ > 0 || r.ver != 0 || r.cmd != wire::kCmdReconn) continue;
      ++claims;
      EXPECT_EQ(r.body, ticket());
      if (refuseClaims != 0) {
        if (refuseClaims > 0) --refuseClaims;
        target->push(0, wire::kCmdFin, Bytes{'r', 'e', 'f', 'u', 's', 'e', 'd'}, now);
        target->sendFin();
        targetDead_ = true;
        continue;
      }
      target->sendPacket(0, wire::kCmdReconn, wire::kStatusOk, Bytes{}, now);
      claimAnsweredAtSent = sent.size();
    }
  }

  size_t servedOld_ = 0;
  size_t servedTarget_ = 0;
  bool answeredOld_ = false;
  bool finSent_ = false;
  bool targetDead_ = false;
};

void sendCounter(MigHarness& h, uint32_t i) {
  const Bytes b = u32(i);
  ASSERT_EQ(h.client.send(2, 4, b.data(), b.size(), true, h.now), ErrorCode::None);
}

TEST(UdpMigration, FullFlowClaimFirstAloneThenHeldInOrder) {
  MigHarness h(migOptions(), {}, 1);
  h.connect();
  for (uint32_t i = 0; i < 30; ++i) sendCounter(h, i);
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  EXPECT_EQ(h.client.state(), ClientState::Migrating);
  for (uint32_t i = 30; i < 60; ++i) sendCounter(h, i);  // held
  const Bytes unrel = u32(99);
  EXPECT_EQ(h.client.send(2, 5, unrel.data(), unrel.size(), false, h.now), ErrorCode::NotConnected);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 10000));
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 30 && !h.oldLinkOpen; }, 10000));

  std::vector<uint32_t> all = h.counters(*h.old);
  for (uint32_t v : h.counters(*h.target)) all.push_back(v);
  ASSERT_EQ(all.size(), 60u);
  for (uint32_t i = 0; i < 60; ++i) EXPECT_EQ(all[i], i);
  EXPECT_EQ(h.counters(*h.old).size(), 30u);  // nothing held went to the old node
  EXPECT_EQ(h.migrateRequests, 1);
  EXPECT_EQ(h.claims, 1);
  EXPECT_EQ(h.opens, 1);
  EXPECT_EQ(h.oldCloses, 1);  // the old node's FIN closed the old link

  // The first DAT at the target is seq 0, the claim, and nothing else is sent
  // reliably to the target until its answer arrived.
  bool sawClaim = false;
  for (size_t i = 0; i < h.claimAnsweredAtSent && i < h.sent.size(); ++i) {
    const Sent& s = h.sent[i];
    if (!s.toTarget) continue;
    const rudp::Flag f = flagOf(s.d);
    if (f == rudp::Flag::Dat || f == rudp::Flag::Rdat) {
      EXPECT_EQ(seqOf(s.d), 0u);
      sawClaim = true;
    }
  }
  EXPECT_TRUE(sawClaim);
  ASSERT_FALSE(h.target->requests.empty());
  EXPECT_EQ(h.target->requests[0].cmd, wire::kCmdReconn);

  const Event* m = h.last(EventType::Migrated);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->from, "10.0.0.1:7100");
  EXPECT_EQ(m->address, kTarget);
  EXPECT_GE(m->rttMs, 0);
  const Event* c = h.last(EventType::Connect);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->reconnected);
  EXPECT_EQ(h.client.state(), ClientState::Connected);
  EXPECT_EQ(h.stats.migrations.load(), 1u);
  ASSERT_TRUE(h.runUntil([&] { return h.budget.queued() == 0; }, 5000));

  // Later traffic and pushes go to and come from the target.
  sendCounter(h, 60);
  h.target->push(2, 6, u32(7), h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 31 && h.pushes().size() == 1; }, 5000));
  EXPECT_EQ(h.client.send(2, 5, unrel.data(), unrel.size(), false, h.now), ErrorCode::None);
}

TEST(UdpMigration, LossyLinksCountersAndPushesExactlyOnceInOrder) {
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    Conditions c;
    c.loss = 0.1;
    c.reorder = 0.05;
    c.duplicate = 0.02;
    MigHarness h(migOptions(), c, seed);
    h.connect();
    uint32_t next = 0;
    uint32_t pushed = 0;
    for (; next < 100; ++next) sendCounter(h, next);
    for (; pushed < 20; ++pushed) h.old->push(2, 6, u32(pushed), h.now);
    ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
    for (; next < 200; ++next) sendCounter(h, next);
    ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 30000)) << "seed " << seed;
    for (; pushed < 40; ++pushed) h.target->push(2, 6, u32(pushed), h.now);
    ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 100 && h.pushes().size() == 40; }, 60000))
        << "seed " << seed;
    std::vector<uint32_t> all = h.counters(*h.old);
    for (uint32_t v : h.counters(*h.target)) all.push_back(v);
    ASSERT_EQ(all.size(), 200u);
    for (uint32_t i = 0; i < 200; ++i) ASSERT_EQ(all[i], i);
    const std::vector<uint32_t> p = h.pushes();
    for (uint32_t i = 0; i < 40; ++i) ASSERT_EQ(p[i], i);
    EXPECT_EQ(h.claims, 1);
    EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  }
}

TEST(UdpMigration, OldLinkAcknowledgesRetransmissionsUntilFin) {
  MigHarness h(migOptions(), {}, 2);
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  // The client's acknowledgement of the answer is lost: the old node retransmits
  // it (RDAT) and the old link answers with RACK.
  h.blockOldLinkMs = 1;
  ASSERT_TRUE(h.runUntil([&] { return h.oldCloses == 1 && h.count(EventType::Migrated) == 1; }, 10000));
  size_t racks = 0;
  bool finAck = false;
  for (const Bytes& d : h.oldLinkSent) {
    if (flagOf(d) == rudp::Flag::Rack) ++racks;
    if (flagOf(d) == rudp::Flag::Ack && seqOf(d) == 0 && d.size() == 20) finAck = true;
  }
  EXPECT_GE(racks, 1u);
  EXPECT_TRUE(finAck);
  EXPECT_TRUE(h.old->channel().idle());
  EXPECT_EQ(h.count(EventType::Migrated), 1u);
}

TEST(UdpMigration, OldLinkClosedAfterLingerWithoutFin) {
  MigHarness h(migOptions(), {}, 3);
  h.oldSendsFin = false;
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  ASSERT_TRUE(h.runUntil([&] { return h.opens == 1; }, 5000));
  const double opened = h.now;
  ASSERT_TRUE(h.runUntil([&] { return h.oldCloses == 1; }, 10000));
  EXPECT_GE(h.now, opened + h.o_.lingerMs);
  EXPECT_EQ(h.client.state(), ClientState::Connected);
}

// The node batches ACK records behind the DATs of its turn, so the ACK of our
// migrate request can follow the answer; after an answer only the node's FIN or
// lingerMs ends the old link, never our own FIN on a late ACK.
TEST(UdpMigration, LateAckOnOldLinkAfterAnswerKeepsItOpen) {
  MigHarness h(migOptions(), {}, 6);
  h.oldSendsFin = false;
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  ASSERT_TRUE(h.runUntil([&] { return h.opens == 1; }, 5000));
  Bytes ack;
  rudp::appendAckRecord(ack, 1, false, nullptr, 0);
  h.client.onOldLinkDatagram(ack.data(), ack.size(), h.now);
  h.flush();
  EXPECT_TRUE(h.client.oldLinkOpen());
  EXPECT_EQ(h.oldCloses, 0);
  for (const Bytes& d : h.oldLinkSent) EXPECT_NE(flagOf(d), rudp::Flag::Fin);  // the old node ends it
}

// Issue 12: a move's own messages wait for nothing. The pack delay (packDelayMs,
// default 1 ms) lets a turn's small sends share a DAT, but the migrate request
// and the requests held during the move leave at the turn that makes them: on a
// busy host loop "the next timer" is the next loop iteration, which cost a
// loaded client process about a hundred milliseconds per move.
TEST(UdpMigration, TheMigrateRequestLeavesAtOnceWithoutThePackDelay) {
  UdpOptions o = migOptions();
  ASSERT_GT(o.packDelayMs, 0.0);
  MigHarness h(o, {}, 21);
  h.connect();
  std::vector<Bytes> before;
  h.client.takeDatagrams(before);
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  std::vector<Bytes> dg;
  h.client.takeDatagrams(dg);  // same instant: no timer ran
  const size_t dats = static_cast<size_t>(std::count_if(dg.begin(), dg.end(), [](const Bytes& d) { return flagOf(d) == rudp::Flag::Dat; }));
  EXPECT_EQ(dats, 1u);
}

// Issue 12: an idle client's echo after the claim would cost the target a DAT each way and
// their ACKs; it keeps its interval instead (with held requests it rides in their DAT, above).
TEST(UdpMigration, AnIdleClientSendsNoEchoAtTheClaimAnswer) {
  UdpOptions o = migOptions();
  MigHarness h(o, {}, 23);
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 10000));
  const double migratedAt = h.now;
  const size_t from = h.claimAnsweredAtSent;  // what the client sent since the claim was answered
  const auto datsToTarget = [&] {
    return std::count_if(h.sent.begin() + static_cast<std::ptrdiff_t>(from), h.sent.end(),
                         [](const Sent& s) { return s.toTarget && (flagOf(s.d) == rudp::Flag::Dat); });
  };
  ASSERT_TRUE(h.runUntil([&] { return datsToTarget() > 0; }, o.echoIntervalMs + 1000));
  const auto first = std::find_if(h.sent.begin() + static_cast<std::ptrdiff_t>(from), h.sent.end(),
                                  [](const Sent& s) { return s.toTarget && flagOf(s.d) == rudp::Flag::Dat; });
  EXPECT_GE(first->at, migratedAt + o.echoIntervalMs);  // the echo, on its interval
  EXPECT_EQ(datsToTarget(), 1);
  EXPECT_EQ(h.client.state(), ClientState::Connected);
}

TEST(UdpMigration, HeldRequestsLeaveWithTheClaimAnswersTurn) {
  UdpOptions o = migOptions();
  ASSERT_GT(o.packDelayMs, 0.0);
  MigHarness h(o, {}, 22);
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  for (uint32_t i = 0; i < 3; ++i) sendCounter(h, i);  // held
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 10000));
  // The step that delivered the claim answer flushed at the same instant: the held
  // requests (and the echo) are on their way to the target already.
  size_t dats = 0;
  for (size_t i = h.claimAnsweredAtSent; i < h.sent.size(); ++i) {
    const Sent& s = h.sent[i];
    if (s.toTarget && flagOf(s.d) == rudp::Flag::Dat && s.at == h.now) ++dats;
  }
  EXPECT_EQ(dats, 1u);  // one DAT: the three requests and the echo packed together
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 3; }, 5000));
}

TEST(UdpMigration, TheMigrateAnswersAckGoesOnTheOldLinkAtOnce) {
  MigHarness h(migOptions(), {}, 23);
  ASSERT_GT(h.o_.ackDelayMs, 0.0);
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  ASSERT_TRUE(h.runUntil([&] { return h.opens == 1; }, 10000));
  // Same instant as the answer: its ACK is on the old link already (the old node's
  // careful close waits for it), not ackDelayMs later.
  const bool acked = std::any_of(h.oldLinkSent.begin(), h.oldLinkSent.end(), [](const Bytes& d) { return flagOf(d) == rudp::Flag::Ack; });
  EXPECT_TRUE(acked);
}

TEST(UdpMigration, NoTargetSendsHeldToOldNodeAndKeepsSession) {
  MigHarness h(migOptions(), {}, 4);
  h.answer = MigHarness::Answer::NoTarget;
  h.connect();
  sendCounter(h, 0);
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  sendCounter(h, 1);
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.old).size() == 2; }, 5000));
  const Event* e = h.last(EventType::Error);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, ErrorCode::NoTarget);
  EXPECT_EQ(h.client.state(), ClientState::Connected);
  EXPECT_EQ(h.opens, 0);
  h.runUntil([] { return false; }, 3000);
  EXPECT_EQ(h.migrateRequests, 1);  // manual mode: no retry of its own
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);  // the application may try again
  ASSERT_TRUE(h.runUntil([&] { return h.migrateRequests == 2; }, 5000));
}

TEST(UdpMigration, AutoModeMigratesOnOfflineNoticeAndRetriesAfterNoTarget) {
  UdpOptions o = migOptions();
  o.autoMigrate = true;
  MigHarness h(o, {}, 5);
  h.noTargetsFirst = 2;
  h.connect();
  Bytes notice{wire::kNodeOffline};
  rudp_test::putF64LE(notice, 0);
  notice.insert(notice.end(), {0, 9});
  h.old->push(0, wire::kCmdKeepAlive, notice, h.now);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 20000));
  EXPECT_EQ(h.count(EventType::Offline), 1u);
  EXPECT_EQ(h.migrateRequests, 3);
  EXPECT_EQ(h.count(EventType::Error), 2u);  // two no-target reports
}

TEST(UdpMigration, SendMigrateIsIdempotentAndNeedsConnection) {
  MigHarness h(migOptions(), {}, 6);
  EXPECT_EQ(h.client.sendMigrate(h.now), ErrorCode::NotConnected);
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  ASSERT_TRUE(h.runUntil([&] { return h.opens == 1; }, 5000));
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);  // still the same migration
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 5000));
  EXPECT_EQ(h.migrateRequests, 1);
  EXPECT_EQ(h.claims, 1);
}

TEST(UdpMigration, HeldQueueIsBoundedInBytesAndKept) {
  UdpOptions o = migOptions();
  o.maxQueuedBytes = 2000;
  o.highWaterMark = 1000;
  MigHarness h(o, {}, 7);
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  uint32_t accepted = 0;
  const Bytes big(200, 0x55);
  for (; accepted < 100; ++accepted) {
    Bytes b = u32(accepted);
    b.insert(b.end(), big.begin(), big.end());
    const ErrorCode rc = h.client.send(2, 4, b.data(), b.size(), true, h.now);
    if (rc == ErrorCode::QueueFull) break;
    ASSERT_EQ(rc, ErrorCode::None);
  }
  ASSERT_GT(accepted, 0u);
  ASSERT_LT(accepted, 100u);
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == accepted; }, 10000));
  const std::vector<uint32_t> got = h.counters(*h.target);
  for (uint32_t i = 0; i < accepted; ++i) EXPECT_EQ(got[i], i);
  ASSERT_TRUE(h.runUntil([&] { return h.budget.queued() == 0; }, 5000));
  EXPECT_GE(h.count(EventType::Drain), 1u);
}

TEST(UdpMigration, RefusedClaimRetriedWithBackoffThenSucceeds) {
  MigHarness h(migOptions(), {}, 8);
  h.refuseClaims = 2;
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  sendCounter(h, 0);
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 10000));
  EXPECT_EQ(h.claims, 3);
  EXPECT_EQ(h.targetsCreated, 3);  // a fresh handshake per attempt
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 1; }, 5000));
}

TEST(UdpMigration, RefusedClaimsUntilTheHandoffTtlFailWithTheQueueHandedBack) {
  MigHarness h(migOptions(), {}, 9);
  h.refuseClaims = -1;
  h.connect();
  sendCounter(h, 0);
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  for (uint32_t i = 1; i <= 5; ++i) sendCounter(h, i);
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 20000));
  const Event* d = h.last(EventType::Disconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->code, ErrorCode::MigrationFailed);
  EXPECT_NE(d->message.find("refused"), std::string::npos) << d->message;
  EXPECT_GE(h.claims, 3);
  const std::vector<UnsentPacket> unsent = h.client.takeUnsent();
  ASSERT_EQ(unsent.size(), 5u);
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(unsent[i].ver, 2);
    EXPECT_EQ(unsent[i].cmd, 4);
    EXPECT_EQ(getU32(unsent[i].body), i + 1);
  }
  EXPECT_TRUE(h.client.takeUnsent().empty());
  EXPECT_EQ(h.budget.queued(), 0u);
  EXPECT_EQ(h.counters(*h.old).size(), 1u);
}

TEST(UdpMigration, UnreachableTargetFailsWithinTheHandoffTtl) {
  MigHarness h(migOptions(), {}, 10);
  h.targetAnswersSyn = false;
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  sendCounter(h, 1);
  ASSERT_TRUE(h.runUntil([&] { return h.opens == 1; }, 5000));
  const double answered = h.now;
  ASSERT_TRUE(h.runUntil([&] { return h.client.closed(); }, 20000));
  EXPECT_LE(h.now, answered + h.o_.handoffTtlMs + 1);
  const Event* d = h.last(EventType::Disconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->code, ErrorCode::MigrationFailed);
  EXPECT_EQ(h.client.takeUnsent().size(), 1u);
  EXPECT_FALSE(h.client.oldLinkOpen());
}

// Connected, one counter sent, the migration's target socket opened, and then it fails.
void failTheTargetSocket(MigHarness& h, uint32_t counter) {
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  sendCounter(h, counter);
  ASSERT_TRUE(h.runUntil([&] { return h.opens == 1; }, 5000));
  h.client.onSocketError(ErrorCode::NetworkError, "connect: Network is unreachable", h.now);
  h.flush();
}

TEST(UdpMigration, ASocketErrorDuringAnAttemptIsRetriedWithinTheHandoffTtl) {
  MigHarness h(migOptions(), {}, 11);
  failTheTargetSocket(h, 0);
  EXPECT_FALSE(h.client.closed());
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 10000));
  EXPECT_EQ(h.count(EventType::Disconnect), 0u);
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 1; }, 5000));
}

TEST(UdpMigration, SocketErrorsOnEveryAttemptEndInMigrationFailedWithinTheHandoffTtl) {
  MigHarness h(migOptions(), {}, 12);
  failTheTargetSocket(h, 1);
  const double answered = h.now;
  while (!h.client.closed() && h.now <= answered + h.o_.handoffTtlMs + 1) {
    // Every attempt's socket fails (ignored while backing off, when none is in use).
    h.client.onSocketError(ErrorCode::NetworkError, "connect: Network is unreachable", h.now);
    h.flush();
    h.runUntil([&] { return h.client.closed(); }, 20);
  }
  ASSERT_TRUE(h.client.closed());
  EXPECT_LE(h.now, answered + h.o_.handoffTtlMs + 1);
  const Event* d = h.last(EventType::Disconnect);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->code, ErrorCode::MigrationFailed);
  EXPECT_NE(d->message.find("unreachable"), std::string::npos) << d->message;
  EXPECT_EQ(h.client.takeUnsent().size(), 1u);
}

TEST(UdpMigration, CloseDuringMigrationHandsTheQueueBack) {
  MigHarness h(migOptions(), {}, 11);
  h.targetAnswersSyn = false;
  h.connect();
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  sendCounter(h, 3);
  h.client.close(true, h.now);
  h.flush();
  EXPECT_TRUE(h.client.closed());
  EXPECT_EQ(h.last(EventType::Disconnect)->code, ErrorCode::ClosedByUser);
  EXPECT_EQ(h.client.takeUnsent().size(), 1u);
  EXPECT_EQ(h.budget.queued(), 0u);
}

}  // namespace
}  // namespace diarkis

namespace diarkis {
namespace {

// PROTOCOL 10.2 under loss: the node pushes the migration while DATs of ours are in
// flight. They are not forgotten (a push proves nothing about them): the old link
// resends them until acknowledged, then our FIN ends it; what was sent after the push
// goes to the target. Every request reaches exactly one node, exactly once, in order.
TEST(UdpMigration, ServerStartedPushKeepsResendingInFlightDatsOnTheOldLink) {
  for (uint32_t seed = 1; seed <= 5; ++seed) {
    MigHarness h(migOptions(), {0.2, 0.1, 0.05, 20}, seed);
    h.oldSendsFin = false;  // the client ends the old link after a push
    h.pushAfterRequests = 5;
    h.connect();
    for (uint32_t i = 0; i < 30; ++i) sendCounter(h, i);
    ASSERT_TRUE(h.runUntil([&] { return h.client.state() == ClientState::Migrating; }, 10000)) << seed;
    for (uint32_t i = 30; i < 60; ++i) sendCounter(h, i);  // held for the target
    ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 20000)) << seed;
    ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 30 && !h.oldLinkOpen; }, 20000)) << seed;
    const auto atOld = h.counters(*h.old);
    ASSERT_EQ(atOld.size(), 30u) << seed;  // every DAT of the old link arrived, once
    for (uint32_t i = 0; i < 30; ++i) EXPECT_EQ(atOld[i], i) << seed;
    const auto atTarget = h.counters(*h.target);
    for (uint32_t i = 0; i < 30; ++i) EXPECT_EQ(atTarget[i], 30 + i) << seed;
    EXPECT_EQ(h.migrateRequests, 0) << seed;
    EXPECT_EQ(h.oldCloses, 1) << seed;
    // Every budgeted byte comes back once acknowledged, on either link.
    EXPECT_TRUE(h.runUntil([&] { return h.budget.queued() == 0; }, 20000)) << seed;
  }
}

// Connected, counter 0 acknowledged; counters from..to wait in a partly packed DAT
// whose pack delay ran out when the push is read (before the owner's flush). The
// old link's first datagrams are lost for blockMs.
void pushWhileADatWaits(MigHarness& h, uint32_t from, uint32_t to, double blockMs) {
  h.oldSendsFin = false;  // the client ends the old link after a push
  h.connect();
  sendCounter(h, 0);
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.old).size() == 1 && h.client.channel().idle(); }, 1000));
  h.blockOldLinkMs = blockMs;
  for (uint32_t i = from; i <= to; ++i) sendCounter(h, i);
  ASSERT_TRUE(h.client.hasUnflushed());  // waits packDelayMs for company
  h.now += h.o_.packDelayMs;
  h.pushMigrationNow();
  ASSERT_EQ(h.client.state(), ClientState::Migrating);
}

// The node pushes the migration while a request of ours waits in a partly packed DAT
// (packDelayMs): that DAT is owed to the old node and goes out on the socket that
// becomes the old link, with the OpenTarget action. It used to wait in the old
// link's queue, which the owner took before it had an old socket and dropped: the
// old link resent it only after an RTO, when the old node forwarded it behind the
// requests the client had sent to the target meanwhile (the demo's reordered
// broadcasts and answers out of sequence).
TEST(UdpMigration, PushWhileARequestWaitsForItsDatSendsItOnTheOldLinkAtOnce) {
  MigHarness h(migOptions(), {}, 1);
  pushWhileADatWaits(h, 1, 1, 0);
  const double pushedAt = h.now;
  sendCounter(h, 2);  // after the push: held for the target
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.old).size() == 2; }, 10000));
  // The first copy of that DAT arrived, before the claim: no resend after an RTO.
  EXPECT_LT(h.now - pushedAt, 50.0);
  EXPECT_TRUE(h.counters(*h.target).empty());
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 1 && !h.oldLinkOpen; }, 10000));
  EXPECT_EQ(h.counters(*h.old), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(h.counters(*h.target), (std::vector<uint32_t>{2}));
  EXPECT_EQ(h.stats.retransmits.load(), 0u);
  EXPECT_EQ(h.oldCloses, 1);
}

// PROTOCOL 10.2 with loss on the old link: the old node forwards what it gets after
// its push to the target, which serves it at once once the claim bound the session.
// So the requests held for the target leave only once the old node acknowledged
// every DAT of ours: a resent one would otherwise be served after them.
TEST(UdpMigration, AfterAPushHeldRequestsWaitUntilTheOldLinkIsIdle) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    MigHarness h(migOptions(), {0.3, 0, 0, 5}, seed);
    h.oldSendsFin = false;
    h.pushAfterRequests = 5;
    h.connect();
    for (uint32_t i = 0; i < 30; ++i) sendCounter(h, i);
    ASSERT_TRUE(h.runUntil([&] { return h.client.state() == ClientState::Migrating; }, 10000)) << seed;
    for (uint32_t i = 30; i < 40; ++i) sendCounter(h, i);  // held for the target
    ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 10 && !h.oldLinkOpen; }, 20000)) << seed;
    ASSERT_EQ(h.counters(*h.old).size(), 30u) << seed;
    EXPECT_LE(h.lastOldRequestAt, h.firstTargetCounterAt) << seed;
  }
}

// The same, deterministic: the old link's first datagrams (the DAT packed when the
// push came) are lost for 300 ms. The claim succeeds long before; the requests held
// for the target wait until the old node has that DAT.
TEST(UdpMigration, AfterAPushHeldRequestsWaitWhileTheOldLinkRecovers) {
  MigHarness h(migOptions(), {}, 1);
  pushWhileADatWaits(h, 1, 3, 300);
  const double pushedAt = h.now;
  for (uint32_t i = 4; i <= 5; ++i) sendCounter(h, i);  // held for the target
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 1000));
  EXPECT_LT(h.now - pushedAt, 300.0);
  sendCounter(h, 6);  // after the claim, still behind the held ones
  ASSERT_TRUE(h.runUntil([&] { return h.counters(*h.target).size() == 3 && !h.oldLinkOpen; }, 10000));
  EXPECT_EQ(h.counters(*h.old), (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(h.counters(*h.target), (std::vector<uint32_t>{4, 5, 6}));
  EXPECT_LE(h.lastOldRequestAt, h.firstTargetCounterAt);
  EXPECT_GE(h.firstTargetCounterAt, pushedAt + 300);
}

// A migration asked for during that wait: the held requests go to this node first.
TEST(UdpMigration, SendMigrateWhileTheHeldWaitForTheOldLinkSendsThemFirst) {
  MigHarness h(migOptions(), {}, 1);
  pushWhileADatWaits(h, 1, 1, 300);
  sendCounter(h, 2);  // held for the target
  ASSERT_TRUE(h.runUntil([&] { return h.count(EventType::Migrated) == 1; }, 1000));
  EXPECT_TRUE(h.counters(*h.target).empty());
  ASSERT_EQ(h.client.sendMigrate(h.now), ErrorCode::None);
  // The migrate request is the target's last request, after the held one.
  ASSERT_TRUE(h.runUntil([&] {
    const auto& r = h.target->requests;
    return r.size() > 1 && r.back().ver == 0 && r.back().cmd == wire::kCmdReconn;
  }, 1000));
  EXPECT_EQ(h.counters(*h.target), (std::vector<uint32_t>{2}));
}

}  // namespace
}  // namespace diarkis
