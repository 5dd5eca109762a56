// CallbackQueue (TcpOptions::callbacks): the callbacks wait until the owner
// polls, then run on the polling thread, in order; a callback may Detach its
// own client; an unpolled queue keeps no client alive. Real loopback sockets
// against TestServer; every wait is a Poll() with a bound.
#include "diarkis/callback_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "diarkis/tcp_client.h"
#include "test_server.h"

namespace diarkis {
namespace {

class Polled : public DiarkisTcpBase {
 public:
  Polled(std::shared_ptr<Runtime> rt, TcpOptions o) : DiarkisTcpBase(std::move(rt), std::move(o)) {}
  ~Polled() override { Detach(); }

  std::vector<std::string> seen;
  std::vector<std::thread::id> threads;
  bool detachOnResponse = false;

 protected:
  void OnConnect(bool) override { note("connect"); }
  void OnResponse(uint8_t, uint16_t, uint8_t, const uint8_t* p, size_t n) override {
    note("response:" + std::string(p, p + n));
    if (detachOnResponse) Detach();  // the poller's thread holds this client's callback lock
  }
  void OnDisconnect(ErrorCode reason, const std::string&) override { note(std::string("disconnect:") + errorCodeName(reason)); }

 private:
  void note(std::string s) {
    seen.push_back(std::move(s));
    threads.push_back(std::this_thread::get_id());
  }
};

// Polls until pred holds or 20 s pass.
template <class Pred>
bool pollUntil(CallbackQueue& q, Pred pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    q.Poll(100);
  }
  return true;
}

// Spins (bounded) until the network thread has queued a callback batch.
bool waitPending(const CallbackQueue& q) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (q.Pending() == 0 && std::chrono::steady_clock::now() < end) std::this_thread::yield();
  return q.Pending() > 0;
}

class CallbackQueueTest : public ::testing::Test {
 protected:
  void TearDown() override { rt->shutdown(); }
  TcpOptions polled() {
    TcpOptions o;
    o.callbacks = q;
    return o;
  }
  void send(Polled& c, const char* s) { c.Send(2, 1, reinterpret_cast<const uint8_t*>(s), 1); }

  test::TestServer server;
  std::shared_ptr<Runtime> rt = Runtime::create();
  std::shared_ptr<CallbackQueue> q = std::make_shared<CallbackQueue>();
};

TEST_F(CallbackQueueTest, CallbacksRunOnThePollingThreadInOrder) {
  Polled c(rt, polled());
  ASSERT_EQ(c.Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  for (const char* s : {"a", "b", "c"}) send(c, s);
  ASSERT_TRUE(waitPending(*q));
  EXPECT_TRUE(c.seen.empty());  // nothing runs until we poll
  ASSERT_TRUE(pollUntil(*q, [&] { return c.seen.size() >= 4; }));
  EXPECT_EQ(c.seen, (std::vector<std::string>{"connect", "response:a", "response:b", "response:c"}));
  for (auto id : c.threads) EXPECT_EQ(id, std::this_thread::get_id());
}

TEST_F(CallbackQueueTest, ACallbackMayDetachItsOwnClient) {
  Polled c(rt, polled());
  c.detachOnResponse = true;
  ASSERT_EQ(c.Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  send(c, "x");
  send(c, "y");
  ASSERT_TRUE(pollUntil(*q, [&] { return c.seen.size() >= 2; }));  // no deadlock
  q->Poll(50);
  EXPECT_EQ(c.seen, (std::vector<std::string>{"connect", "response:x"}));  // nothing after Detach
}

TEST_F(CallbackQueueTest, WakeEndsAWaitAndAnUnpolledQueueKeepsNoClient) {
  std::thread waker([&] { q->Wake(); });
  EXPECT_EQ(q->Poll(-1), 0u);
  waker.join();

  std::weak_ptr<CallbackQueue> weak = q;
  {
    Polled c(rt, polled());
    ASSERT_EQ(c.Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
    ASSERT_TRUE(waitPending(*q));
  }  // destroyed with its callbacks unpolled
  rt->shutdown();
  q.reset();
  EXPECT_TRUE(weak.expired());  // no cycle client -> queue -> batch -> client
}

}  // namespace
}  // namespace diarkis
