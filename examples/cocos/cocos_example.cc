// A Cocos-style game client on the C++ classes: subclasses of DiarkisTcpBase /
// DiarkisUdpBase that override the On* callbacks, OnOffline calling SendMigrate
// (the engine SDK's manual migration), and a game loop that polls the callbacks
// once a frame on its own thread (TcpOptions::callbacks), the way a Cocos
// scheduler's update() would. Run by test/engines/run.mjs like the C smoke test:
//
//   cocos_example <tcp|udp> <manual|auto> <host> <port> <sid> <key> <iv> <mac>
//
// It plays: connect, echo, counter 1, (node offline) -> SendMigrate -> migrated,
// counter 2 on the new node, close. Prints PASS when every step held.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "diarkis/callback_queue.h"
#include "diarkis/tcp_client.h"
#include "diarkis/udp_client.h"

namespace {

enum class Step { Connecting, Echo, Counter1, Offline, Migrating, Counter2, Closing, Done, Failed };

// The game's network component; Base is DiarkisTcpBase or DiarkisUdpBase.
template <class Base>
class GameNetwork final : public Base {
 public:
  template <class Options>
  GameNetwork(std::shared_ptr<diarkis::Runtime> rt, Options o, uint16_t port)
      : Base(std::move(rt), std::move(o)), port_(port), loopThread_(std::this_thread::get_id()) {}
  ~GameNetwork() override { this->Detach(); }

  Step step() const { return step_; }

 protected:
  void OnConnect(bool reconnected) override {
    onLoop();
    if (reconnected) return;  // the migration's reconnect: OnMigrated follows
    step_ = Step::Echo;
    static const char hello[] = "hello";
    this->RSend(2, 1, reinterpret_cast<const uint8_t*>(hello), 5);
  }
  void OnResponse(uint8_t ver, uint16_t cmd, uint8_t status, const uint8_t* p, size_t len) override {
    onLoop();
    if (ver != 2 || status != 1) return fail("bad response");
    if (step_ == Step::Echo && cmd == 1 && len == 5 && std::memcmp(p, "hello", 5) == 0) {
      step_ = Step::Counter1;
      this->RSend(2, 2, nullptr, 0);
    } else if (cmd == 2 && len == 4 && (step_ == Step::Counter1 || step_ == Step::Counter2)) {
      const uint32_t n = uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
      if (step_ == Step::Counter1 && n == 1) {
        step_ = Step::Offline;
        std::printf("AWAIT-OFFLINE %u\n", unsigned(port_));  // the runner takes our node offline
        std::fflush(stdout);
      } else if (step_ == Step::Counter2 && n == 2) {
        step_ = Step::Closing;
        this->Disconnect(true);
      } else {
        fail("wrong counter");
      }
    } else {
      fail("unexpected response");
    }
  }
  void OnOffline() override {
    onLoop();
    if (step_ != Step::Offline) return fail("offline out of turn");
    step_ = Step::Migrating;
    if (this->SendMigrate() != diarkis::ErrorCode::None) fail("SendMigrate refused");
  }
  void OnMigrated(const diarkis::MigrationInfo& info) override {
    onLoop();
    std::printf("migrated %s -> %s in %.1f ms\n", info.from.c_str(), info.to.c_str(), info.tookMs);
    if (step_ != Step::Migrating) return fail("migrated out of turn");
    step_ = Step::Counter2;
    this->RSend(2, 2, nullptr, 0);  // the session's data moved with it
  }
  void OnDisconnect(diarkis::ErrorCode reason, const std::string& message) override {
    onLoop();
    if (step_ == Step::Closing && reason == diarkis::ErrorCode::ClosedByUser) {
      step_ = Step::Done;
    } else {
      fail((std::string("disconnected: ") + diarkis::errorCodeName(reason) + " " + message).c_str());
    }
  }

 private:
  void onLoop() {
    if (std::this_thread::get_id() != loopThread_) fail("callback off the game loop's thread");
  }
  void fail(const char* why) {
    std::fprintf(stderr, "FAIL: %s\n", why);
    step_ = Step::Failed;
  }

  uint16_t port_;
  std::thread::id loopThread_;
  Step step_ = Step::Connecting;
};

// The game loop: ~60 frames a second, the network's callbacks polled each frame.
template <class Client>
int play(Client& client, diarkis::CallbackQueue& callbacks) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (client.step() != Step::Done && client.step() != Step::Failed) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "FAIL: timed out in step %d\n", int(client.step()));
      return 1;
    }
    callbacks.Poll(16);  // a frame: waits for events up to 16 ms, runs them here
  }
  return client.step() == Step::Done ? 0 : 1;
}

template <class Base, class Options>
int run(const std::string& host, uint16_t port, const diarkis::SessionKeys& keys) {
  auto runtime = diarkis::Runtime::create();
  auto callbacks = std::make_shared<diarkis::CallbackQueue>();
  Options options;
  options.callbacks = callbacks;  // the engine SDK's default: manual migration (autoMigrate false)
  GameNetwork<Base> client(runtime, options, port);
  if (client.Connect(host, port, keys) != diarkis::ErrorCode::None) return 1;
  const int rc = play(client, *callbacks);
  client.Detach();
  runtime->shutdown();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: %s <tcp|udp> <manual|auto> <host> <port> <sid> <key> <iv> <mac>\n", argv[0]);
    return 2;
  }
  diarkis::SessionKeys keys;
  const bool encrypted = argv[6][0] != '\0';
  keys.encrypted = encrypted;
  if (!diarkis::parseHex16(argv[5], keys.sid) ||
      (encrypted && (!diarkis::parseHex16(argv[6], keys.key) || !diarkis::parseHex16(argv[7], keys.iv) ||
                     !diarkis::parseHex16(argv[8], keys.macKey)))) {
    std::fprintf(stderr, "bad keys\n");
    return 2;
  }
  const uint16_t port = static_cast<uint16_t>(std::atoi(argv[4]));
  const bool udp = std::strcmp(argv[1], "udp") == 0;
  const int rc = udp ? run<diarkis::DiarkisUdpBase, diarkis::UdpOptions>(argv[3], port, keys)
                     : run<diarkis::DiarkisTcpBase, diarkis::TcpOptions>(argv[3], port, keys);
  if (rc == 0) std::printf("PASS %s\n", argv[1]);
  return rc;
}
