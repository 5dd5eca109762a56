// What the C ABI costs per event, against its anchor, the C++ class with its
// callbacks on the network thread, and the C++ class with a CallbackQueue.
// Each mode pipelines N echo requests (2/1, 64 bytes) on one TCP session and
// waits for the N answers. Run under callgrind (instructions of the whole
// process: the network thread's work is the same in every mode, so the
// difference is the layer) through bench/engines/run.sh. `lone` instead keeps one
// request in flight through the C ABI, on TCP or UDP, and prints its echoes/s and
// CPU per echo (bench/engines/lone.sh).
//
//   poll_cost <capi|cpp|polled|lone> <N> <tcp|udp> manual <host> <port> <sid> <key> <iv> <mac>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <sys/resource.h>

#include "diarkis.h"
#include "diarkis/callback_queue.h"
#include "diarkis/tcp_client.h"

namespace {

const uint8_t kBody[64] = {1};

int runCapi(int n, const dk_endpoint& ep) {
  dk_context* ctx = dk_context_create();
  int id = dk_tcp_create(ctx, nullptr);
  if (dk_connect(ctx, id, &ep) != 0) return 1;
  dk_event ev[256];
  int answers = 0;
  bool connected = false;
  while (answers < n) {
    const int got = dk_poll(ctx, ev, 256, 20000);
    if (got <= 0) return 1;
    for (int i = 0; i < got; i++) {
      if (ev[i].type == DK_EV_CONNECT && !connected) {
        connected = true;
        for (int k = 0; k < n; k++) dk_rsend(ctx, id, 2, 1, kBody, sizeof kBody);
      }
      if (ev[i].type == DK_EV_RESPONSE) answers++;
      if (ev[i].type == DK_EV_DISCONNECT) return 1;
    }
  }
  dk_context_destroy(ctx);
  return 0;
}

double cpuUs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);  // the whole process: the caller's thread and the network thread
  const long long us = (static_cast<long long>(u.ru_utime.tv_sec) + u.ru_stime.tv_sec) * 1000000LL +
                       u.ru_utime.tv_usec + u.ru_stime.tv_usec;
  return static_cast<double>(us);
}

// One request in flight through the C ABI (a game client's request/answer), on TCP or UDP with
// the default options: n echoes after 200 of warm-up; prints echoes/s and process CPU per echo.
int runLone(int n, bool udp, const dk_endpoint& ep) {
  dk_context* ctx = dk_context_create();
  const int id = udp ? dk_udp_create(ctx, nullptr) : dk_tcp_create(ctx, nullptr);
  if (dk_connect(ctx, id, &ep) != 0) return 1;
  dk_event ev[64];
  const int warm = 200;
  int answers = 0;
  bool connected = false;
  auto t0 = std::chrono::steady_clock::now();
  double c0 = 0;
  while (answers < warm + n) {
    const int got = dk_poll(ctx, ev, 64, 20000);
    if (got <= 0) return 1;
    bool ask = false;
    for (int i = 0; i < got; i++) {
      if (ev[i].type == DK_EV_CONNECT && !connected) connected = ask = true;
      if (ev[i].type == DK_EV_RESPONSE) {
        ask = ++answers < warm + n;
        if (answers == warm) {
          t0 = std::chrono::steady_clock::now();
          c0 = cpuUs();
        }
      }
      if (ev[i].type == DK_EV_DISCONNECT) return 1;
    }
    if (ask && dk_rsend(ctx, id, 2, 1, kBody, sizeof kBody) < 0) return 1;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("LONE %s echoes/s %.0f cpu-us/echo %.2f\n", udp ? "udp" : "tcp", n / s, (cpuUs() - c0) / n);
  dk_context_destroy(ctx);
  return 0;
}

class Echo final : public diarkis::DiarkisTcpBase {
 public:
  Echo(std::shared_ptr<diarkis::Runtime> rt, diarkis::TcpOptions o, int n)
      : DiarkisTcpBase(std::move(rt), std::move(o)), n_(n) {}
  ~Echo() override { Detach(); }
  std::atomic<int> answers{0};
  std::atomic<bool> failed{false};

 protected:
  void OnConnect(bool) override {
    for (int k = 0; k < n_; k++) RSend(2, 1, kBody, sizeof kBody);
  }
  void OnResponse(uint8_t, uint16_t, uint8_t, const uint8_t*, size_t) override { answers.fetch_add(1); }
  void OnDisconnect(diarkis::ErrorCode, const std::string&) override { failed = true; }

 private:
  int n_;
};

int runCpp(int n, bool polled, const std::string& host, uint16_t port, const diarkis::SessionKeys& keys) {
  auto rt = diarkis::Runtime::create();
  auto q = std::make_shared<diarkis::CallbackQueue>();
  diarkis::TcpOptions o;
  if (polled) o.callbacks = q;
  Echo c(rt, o, n);
  if (c.Connect(host, port, keys) != diarkis::ErrorCode::None) return 1;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (c.answers.load() < n && !c.failed && std::chrono::steady_clock::now() < end) {
    if (polled) q->Poll(100);
    else std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the anchor's waiting thread idles
  }
  const bool ok = c.answers.load() == n;
  c.Detach();
  rt->shutdown();
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 11) {
    std::fprintf(stderr, "usage: %s <capi|cpp|polled|lone> <N> <tcp|udp> manual <host> <port> <sid> <key> <iv> <mac>\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int n = std::atoi(argv[2]);
  const uint16_t port = static_cast<uint16_t>(std::atoi(argv[6]));
  dk_endpoint ep{};
  ep.struct_size = sizeof ep;
  ep.port = port;
  ep.host = argv[5];
  ep.sid_hex = argv[7];
  ep.key_hex = argv[8];
  ep.iv_hex = argv[9];
  ep.mac_key_hex = argv[10];
  diarkis::SessionKeys keys;
  keys.encrypted = argv[8][0] != '\0';
  diarkis::parseHex16(argv[7], keys.sid);
  if (keys.encrypted) {
    diarkis::parseHex16(argv[8], keys.key);
    diarkis::parseHex16(argv[9], keys.iv);
    diarkis::parseHex16(argv[10], keys.macKey);
  }
  const bool udp = std::strcmp(argv[3], "udp") == 0;
  if (udp && mode != "lone") {
    std::fprintf(stderr, "udp: lone mode only\n");
    return 2;
  }
  const int rc = mode == "lone"   ? runLone(n, udp, ep)
                 : mode == "capi" ? runCapi(n, ep)
                                  : runCpp(n, mode == "polled", argv[5], port, keys);
  if (rc == 0) std::printf("PASS %s %d\n", mode.c_str(), n);
  return rc;
}
