// An exception on the network thread (bad_alloc, a crypto failure) ends only the
// client it belongs to, with internal-error; the loop and the other clients go on.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "diarkis/tcp_client.h"
#include "io/runtime_impl.h"
#include "test_server.h"

namespace diarkis {
namespace {

using namespace std::chrono_literals;

class Client : public DiarkisTcpBase {
 public:
  explicit Client(std::shared_ptr<Runtime> rt) : DiarkisTcpBase(std::move(rt), TcpOptions{}) {}
  ~Client() override { Detach(); }

  bool waitFor(int connects, int responses, bool disconnected) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, 20s, [&] {
      return connects_ >= connects && responses_ >= responses && (!disconnected || code_ != ErrorCode::None);
    });
  }
  ErrorCode code() {
    std::lock_guard<std::mutex> lk(mu_);
    return code_;
  }
  std::string message() {
    std::lock_guard<std::mutex> lk(mu_);
    return message_;
  }

 protected:
  void OnConnect(bool) override { bump([&] { ++connects_; }); }
  void OnResponse(uint8_t, uint16_t, uint8_t, const uint8_t*, size_t) override { bump([&] { ++responses_; }); }
  void OnDisconnect(ErrorCode reason, const std::string& message) override {
    bump([&] {
      code_ = reason;
      message_ = message;
    });
  }

 private:
  template <class Fn>
  void bump(Fn fn) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      fn();
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  int connects_ = 0;
  int responses_ = 0;
  ErrorCode code_ = ErrorCode::None;
  std::string message_;
};

TEST(LoopFaultTest, AnExceptionOnTheNetworkThreadEndsOnlyItsClientWithInternalError) {
  test::TestServer server;
  std::shared_ptr<Runtime> rt = Runtime::create();
  Client a(rt), b(rt);
  ASSERT_EQ(a.Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  ASSERT_EQ(b.Connect("127.0.0.1", server.port(), test::testKeys()), ErrorCode::None);
  ASSERT_TRUE(a.waitFor(1, 0, false));
  ASSERT_TRUE(b.waitFor(1, 0, false));

  // What an allocation failing inside a's session looks like to the loop.
  ASSERT_TRUE(runtimeImpl(*rt).postLoop(a.Id(), [](Loop&) { throw std::bad_alloc(); }));
  ASSERT_TRUE(a.waitFor(1, 0, true));
  EXPECT_EQ(a.code(), ErrorCode::InternalError);
  EXPECT_FALSE(a.message().empty());
  EXPECT_EQ(a.State(), ClientState::Closed);

  // The thread survived and b is untouched: a request still round-trips.
  const uint8_t body[] = {1, 2, 3};
  ASSERT_EQ(b.Send(2, 1, body, sizeof body), ErrorCode::None);
  ASSERT_TRUE(b.waitFor(1, 1, false));
  EXPECT_EQ(b.code(), ErrorCode::None);
  EXPECT_EQ(b.State(), ClientState::Connected);
  EXPECT_EQ(a.Send(2, 1, body, sizeof body), ErrorCode::NotConnected);
  rt->shutdown();
}

TEST(LoopFaultTest, ClientIdsAre64BitAndNeverTheWakeKey) {
  const uint64_t first = allocateClientId();
  const uint64_t second = allocateClientId();
  EXPECT_NE(first, 0u);
  EXPECT_GT(second, first);
  static_assert(sizeof(allocateClientId()) == 8, "ids must not run out");
}

}  // namespace
}  // namespace diarkis
