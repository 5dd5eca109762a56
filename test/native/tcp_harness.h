// The fake-clock harness of the TcpSession tests: an in-test node (ServerCodec per
// connection), no sockets, no sleeping. Shared by tcp_session_test.cc,
// tcp_migration_test.cc and tcp_room_test.cc.
#pragma once
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "session/tcp_session.h"
#include "test_server.h"

namespace diarkis {
namespace test {

inline Bytes bytesOf(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline std::string textOf(const Bytes& b) { return std::string(b.begin(), b.end()); }

inline const Bytes kTicket = bytesOf("0123456789abcdef");

inline Bytes migrateAnswerBody(const std::string& addr, const Bytes& ticket = kTicket) {
  Bytes b;
  b.reserve(2 + addr.size() + ticket.size());
  b.push_back(static_cast<uint8_t>(addr.size() >> 8));
  b.push_back(static_cast<uint8_t>(addr.size()));
  for (char c : addr) b.push_back(static_cast<uint8_t>(c));
  for (uint8_t t : ticket) b.push_back(t);
  return b;
}

inline TcpOptions migrationOptions() {
  TcpOptions o;
  o.rngSeed = 42;
  o.handoffTtlMs = 3000;
  o.migrateRetryMinMs = 100;
  o.migrateRetryMaxMs = 800;
  return o;
}

struct TcpHarness {
  explicit TcpHarness(TcpOptions o = migrationOptions())
      : opts(o), budget(stats, o.highWaterMark, o.maxQueuedBytes), s(opts, test::testKeys(), stats, budget),
        server(std::make_unique<test::ServerCodec>()) {}

  void advanceTo(double t) {
    for (int guard = 0; s.nextDeadline() <= t; ++guard) {
      ASSERT_LT(guard, 100000) << "timer does not make progress";
      now = s.nextDeadline();
      s.onTimer(now);
      collect();
    }
    now = t;
  }
  std::vector<Request> flush() {
    const size_t n = s.outputSize();
    std::vector<Request> reqs = server->feed(s.output(), n);
    s.consumeOutput(n, now);
    collect();
    EXPECT_FALSE(server->failed());
    return reqs;
  }
  void fromServer(const Bytes& b) {
    s.onData(b.data(), b.size(), now);
    collect();
  }
  void collect() { s.takeEvents(events); }
  void connect() {
    s.setPeerName("10.0.0.1:1000");
    s.start(now);
    s.onSocketConnected(now);
    auto reqs = flush();
    ASSERT_EQ(reqs.size(), 1u);
    fromServer(server->heartbeatAnswer(wire::kNodeOnline, reqs[0].timestamp));
    ASSERT_EQ(s.state(), ClientState::Connected);
  }
  // The old node answers the migrate request with the target's address (+ what precedes it).
  void answerMigrate(const Bytes& before = {}, const Bytes& after = {}) {
    auto reqs = flush();
    ASSERT_FALSE(reqs.empty());
    ASSERT_EQ(reqs.back().ver, 0);
    ASSERT_EQ(reqs.back().cmd, wire::kCmdReconn);
    ASSERT_TRUE(reqs.back().body.empty());
    Bytes chunk = before;
    const Bytes ans = server->packet(0, wire::kCmdReconn, wire::kStatusOk, migrateAnswerBody("127.0.0.1:4000"));
    chunk.insert(chunk.end(), ans.begin(), ans.end());
    chunk.insert(chunk.end(), after.begin(), after.end());
    fromServer(chunk);
  }
  // The I/O layer's part: the old socket lingers, a new one goes to the target.
  void expectConnectToTarget() {
    std::string host;
    uint16_t port = 0;
    ASSERT_TRUE(s.takeConnect(host, port));
    EXPECT_EQ(host, "127.0.0.1");
    EXPECT_EQ(port, 4000);
    server = std::make_unique<test::ServerCodec>();  // a new connection: a new stream
  }
  // The socket connects; returns the claim.
  Request claim() {
    s.onSocketConnected(now);
    auto reqs = flush();
    EXPECT_EQ(reqs.size(), 1u);
    return reqs.empty() ? Request{} : reqs[0];
  }
  size_t count(EventType t) const {
    size_t n = 0;
    for (const Event& e : events) n += e.type == t;
    return n;
  }
  const Event* last(EventType t) const {
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->type == t) return &*it;
    }
    return nullptr;
  }
  ErrorCode send(uint8_t ver, uint16_t cmd, const std::string& body, bool* writable = nullptr) {
    return s.send(ver, cmd, reinterpret_cast<const uint8_t*>(body.data()), body.size(), writable);
  }

  TcpOptions opts;
  Stats stats;
  SendBudget budget;
  TcpSession s;
  std::unique_ptr<test::ServerCodec> server;
  double now = 0;
  std::vector<Event> events;
};

}  // namespace test
}  // namespace diarkis
