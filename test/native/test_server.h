// Test helpers for the TCP client tests: the server side of the protocol built
// from codec.h/crypto.h. ServerCodec is sans-I/O (for the fake-clock session
// tests); TestServer is a tiny loopback TCP server on its own thread.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "diarkis/codec.h"
#include "diarkis/crypto.h"
#include "io/socket_shim.h"
#include "io/waker.h"

namespace diarkis::test {

SessionKeys testKeys(bool encrypted = true);

// One decoded client request.
struct Request {
  uint8_t ver = 0;
  uint16_t cmd = 0;
  Bytes body;        // decrypted
  double timestamp = 0;  // heartbeat body (float64 LE), when ver 0 cmd 1
};

class ServerCodec {
 public:
  explicit ServerCodec(const SessionKeys& keys = testKeys());
  // Feed client bytes; returns the requests completed by them. A bad request
  // sets failed() (tests assert it stays false).
  std::vector<Request> feed(const uint8_t* data, size_t len);
  bool failed() const { return failed_; }

  Bytes packet(uint8_t ver, uint16_t cmd, uint8_t status, const Bytes& body);
  Bytes heartbeatAnswer(uint8_t nodeState, double ts);
  Bytes offlineNotice();
  Bytes fin(const std::string& reason);
  Bytes push(uint8_t ver, uint16_t cmd, const Bytes& body) { return packet(ver, cmd, wire::kStatusPush, body); }
  // A packet whose MAC does not verify.
  Bytes tampered(uint8_t ver, uint16_t cmd, uint8_t status, const Bytes& body);

 private:
  SessionCrypto crypto_;
  Bytes buf_;
  bool failed_ = false;
};

double readF64LE(const uint8_t* p);
Bytes f64LE(double v);

// Loopback server. Default behaviour per request:
//   ver 0 cmd 1 -> heartbeat answer (state nodeState), unless answerHeartbeats is false
//   ver 2 cmd 1 -> response status 1, same body (echo)
//   ver 2 cmd 3 -> push ver 2 cmd 3 with the same body
//   ver 2 cmd 9 -> the server closes that connection
class TestServer {
 public:
  TestServer();
  ~TestServer();
  uint16_t port() const { return port_; }

  std::atomic<bool> answerHeartbeats{true};
  std::atomic<uint8_t> nodeState{wire::kNodeOnline};

  // Run fn on the server thread with each open connection's write function.
  void broadcast(const std::function<Bytes(ServerCodec&)>& make);
  void closeAll();
  size_t connectionsAccepted() const { return accepted_.load(); }
  size_t requestsSeen() const { return requests_.load(); }
  bool protocolErrors() const { return protoErrors_.load(); }

 private:
  struct Conn;
  void run();
  void wake();
  void handle(Conn& c, const Request& r);

  UniqueSocket listen_;
  Waker waker_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> accepted_{0};
  std::atomic<size_t> requests_{0};
  std::atomic<bool> protoErrors_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> commands_;  // run on the server thread
  std::vector<std::unique_ptr<Conn>> conns_;     // server thread only
  std::thread thread_;
};

// A port on 127.0.0.1 with nothing listening (bound then closed).
uint16_t closedPort();

}  // namespace diarkis::test
