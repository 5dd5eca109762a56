// A loopback UDP server around the simulated RUDP node of rudp_sim.h on its own thread,
// and a DiarkisUdpBase that records its events: shared by the UDP client tests on the
// thread runtime (udp_client_test.cc) and on the host runtime (udp_host_runtime_test.cc).
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "diarkis/udp_client.h"
#include "io/poller.h"
#include "io/socket_shim.h"
#include "rudp_sim.h"

namespace diarkis::test {

inline constexpr std::chrono::seconds kUdpSafety{20};

// A loopback UDP server around SimServer. Answers every application request
// with a response echoing its body; records unreliable datagrams.
class LoopbackServer {
 public:
  explicit LoopbackServer(const UdpOptions& o)
      : sim_(rudp_test::testKeys(), rudp_test::serverConfig(o), 7), fd_(openSocket(AF_INET, SOCK_DGRAM)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("bind");
    socklen_t len = sizeof a;
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    thread_.join();
  }
  uint16_t port() const { return port_; }

  // Runs fn with the simulated server on the server thread's lock.
  template <typename F>
  auto with(F fn) {
    std::lock_guard<std::mutex> lk(mu_);
    return fn(sim_);
  }
  std::vector<std::string> unreliable() {
    std::lock_guard<std::mutex> lk(mu_);
    return unreliable_;
  }

 private:
  // Winsock's buffers are char*; socklen_t is its int.
#ifdef _WIN32
  using Buf = char*;
  using CBuf = const char*;
#else
  using Buf = void*;
  using CBuf = const void*;
#endif

  void run() {
    std::vector<uint8_t> buf(65536);
    std::unique_ptr<Poller> poller = makeDefaultPoller();
    poller->add(fd_.get(), 1, false);
    std::vector<PollEvent> ready;
    while (!stop_) {
      ready.clear();
      poller->wait(ready, 2);
      std::lock_guard<std::mutex> lk(mu_);
      const double now = Runtime::nowMs();
      for (;;) {
        sockaddr_storage from{};
        socklen_t flen = sizeof from;
        const long n = ::recvfrom(fd_.get(), reinterpret_cast<Buf>(buf.data()), static_cast<int>(buf.size()), 0,
                                  reinterpret_cast<sockaddr*>(&from), &flen);
        if (n < 0) break;  // non-blocking: nothing more
        peer_ = from;
        peerLen_ = flen;
        Bytes d(buf.begin(), buf.begin() + n);
        if (rudp_test::flagOf(d) == rudp::Flag::Udp) unreliable_.emplace_back(d.begin() + 4, d.end());
        sim_.onDatagram(d, now);
      }
      if (sim_.nextDeadline() <= now) sim_.onTimer(now);
      for (; answered_ < sim_.requests.size(); ++answered_) {
        const rudp_test::Received& r = sim_.requests[answered_];
        sim_.sendPacket(r.ver, r.cmd, wire::kStatusOk, r.body, now);
      }
      for (Bytes& d : sim_.take()) {
        if (peerLen_ > 0) {
          ::sendto(fd_.get(), reinterpret_cast<CBuf>(d.data()), static_cast<int>(d.size()), 0,
                   reinterpret_cast<sockaddr*>(&peer_), peerLen_);
        }
      }
    }
  }

  std::mutex mu_;
  rudp_test::SimServer sim_;
  UniqueSocket fd_;
  uint16_t port_ = 0;
  sockaddr_storage peer_{};
  socklen_t peerLen_ = 0;
  size_t answered_ = 0;
  std::vector<std::string> unreliable_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct Rec {
  EventType type;
  ErrorCode code = ErrorCode::None;
  uint16_t cmd = 0;
  std::string text;  // payload, or the echo's public address
};

class UdpRecorder : public DiarkisUdpBase {
 public:
  UdpRecorder(std::shared_ptr<Runtime> rt, UdpOptions o) : DiarkisUdpBase(std::move(rt), std::move(o)) {}
  ~UdpRecorder() override { Detach(); }

  bool waitFor(const std::function<bool(const std::vector<Rec>&)>& pred) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, kUdpSafety, [&] { return pred(recs_); });
  }
  bool waitCount(EventType t, size_t n) {
    return waitFor([&](const std::vector<Rec>& r) {
      size_t c = 0;
      for (const Rec& x : r) c += x.type == t;
      return c >= n;
    });
  }
  std::vector<Rec> of(EventType t) {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<Rec> out;
    for (const Rec& x : recs_) {
      if (x.type == t) out.push_back(x);
    }
    return out;
  }
  std::function<void(UdpRecorder&)> onResponse;  // after the response is recorded

  ErrorCode rsend(uint16_t cmd, const std::string& s) {
    return RSend(2, cmd, reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  ErrorCode send(uint16_t cmd, const std::string& s) {
    return Send(2, cmd, reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

 protected:
  void OnConnect(bool) override { add({EventType::Connect, ErrorCode::None, 0, {}}); }
  void OnDisconnect(ErrorCode reason, const std::string&) override { add({EventType::Disconnect, reason, 0, {}}); }
  void OnResponse(uint8_t, uint16_t cmd, uint8_t, const uint8_t* p, size_t n) override {
    add({EventType::Response, ErrorCode::None, cmd, std::string(p, p + n)});
    if (onResponse) onResponse(*this);
  }
  void OnPush(uint8_t, uint16_t cmd, const uint8_t* p, size_t n) override {
    add({EventType::Push, ErrorCode::None, cmd, std::string(p, p + n)});
  }
  void OnEcho(double rttMs, const std::string& address) override {
    EXPECT_GE(rttMs, 0.0);
    add({EventType::Echo, ErrorCode::None, 0, address});
  }
  void OnError(ErrorCode code, const std::string&) override { add({EventType::Error, code, 0, {}}); }
  void OnDrain() override { add({EventType::Drain, ErrorCode::None, 0, {}}); }

 private:
  void add(Rec r) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      recs_.push_back(std::move(r));
    }
    cv_.notify_all();
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Rec> recs_;
};

}  // namespace diarkis::test
