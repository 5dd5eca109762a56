// HostLoop: the host-loop driver (io: 'loop', the default in Node). The clients'
// sans-I/O sessions run on the environment's own libuv loop: a uv_poll_t per
// socket, one uv_timer_t for the earliest session deadline, no network thread,
// no thread-safe function, no cross-thread wake-up.
//
// One loop turn: poll callbacks read and decode (events go to the core's
// EventQueue); the check phase delivers everything queued in ONE JS call (batch.h)
// and then writes what the clients queued, once per socket. Sends made outside
// our callbacks (a timer, another socket's handler) are written in the prepare
// phase, before the loop next waits. The timer's callback reads late sockets
// before judging liveness (Loop::dispatchTimers), delivers and writes at once.
//
// libuv only (uv_poll_init_socket also serves Windows sockets): nothing here
// calls epoll, eventfd or another platform API directly.
//
// Lifetime hazards and their answers:
//  - Worker termination / environment teardown: an async cleanup hook
//    (Node-API 8) shuts the runtime down (every socket unwatched and closed),
//    closes every uv handle, and only then lets Node continue; the HostLoop
//    keeps itself alive until the last close callback.
//  - Process liveness like net.Socket: every handle is unref'd; one uv_async_t
//    is ref'd exactly while a ref'd, open client exists.
//  - Every uv callback catches everything: no C++ exception reaches libuv.
#pragma once
#include <node_api.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "diarkis/runtime.h"
#include "event_sink.h"

namespace diarkis_node {

class HostLoop final : public EventSink, public diarkis::HostIo {
 public:
  // JS thread. handler: the environment's batch handler. Throws a JS error when
  // the loop or the cleanup hook cannot be had.
  static std::shared_ptr<HostLoop> create(napi_env env, napi_value handler);
  ~HostLoop() override;
  HostLoop(const HostLoop&) = delete;
  HostLoop& operator=(const HostLoop&) = delete;

  const std::shared_ptr<diarkis::HostRuntime>& runtime() const { return runtime_; }


  // HostIo
  bool watch(diarkis::SocketHandle fd, uint64_t key, bool wantWrite) override;
  bool rewatch(diarkis::SocketHandle fd, uint64_t key, bool wantWrite) override;
  void unwatch(diarkis::SocketHandle fd) override;
  void setTimer(double deadlineMs) override;
  void requestFlush() override;

  // A ref'd, open client appeared / went away.
  void addRef();
  void dropRef();
  // The environment is going away (AddonState::cleanup): no more JS calls.
  void close();
  void addStats(PumpStats& s);
  // Tests only: the next `passes` timer callbacks each re-arm the host timer at a
  // deadline already past, as a session does whose pass took longer than its
  // timers (the livelock the 1 ms floor in setTimer prevents); counts them.
  void timerStormForTest(int passes);
  uint64_t timerStormRunsForTest() const { return stormRuns_; }

 protected:
  // EventSink (the JS thread: the clients' callbacks run on it).
  void queued(bool wasEmpty) override;

 private:
  struct Poll;
  explicit HostLoop(napi_env env);
  bool initHandles(napi_value handler);
  void deliver();        // one JS call with what is queued
  void drain();          // deliver + write, until quiet (bounded)
  void teardown();       // close every handle (cleanup hook)
  void handleClosed();   // one uv_close finished
  static void onPoll(uv_poll_t* h, int status, int events);
  static void onTimer(uv_timer_t* h);
  static void onPrepare(uv_prepare_t* h);
  static void onCheck(uv_check_t* h);
  static void onPollClosed(uv_handle_t* h);
  static void onCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  napi_env env_;
  uv_loop_t* loop_ = nullptr;
  std::shared_ptr<diarkis::HostRuntime> runtime_;
  std::shared_ptr<HostLoop> self_;  // held while any uv handle is open
  uv_timer_t timer_{};
  uv_prepare_t prepare_{};
  uv_check_t check_{};
  uv_async_t keepAlive_{};
  int openHandles_ = 0;
  std::unordered_map<diarkis::SocketHandle, Poll*> polls_;  // by socket
  napi_ref handler_ = nullptr;
  napi_ref resource_ = nullptr;
  napi_async_context asyncContext_ = nullptr;
  napi_async_cleanup_hook_handle cleanupHandle_ = nullptr;
  int refs_ = 0;
  bool inCallback_ = false;  // inside one of our uv callbacks: it drains before returning
  bool prepareActive_ = false;
  bool pendingInput_ = false;  // poll callbacks read something: the check phase delivers
  bool closed_ = false;
  bool tornDown_ = false;
  int stormLeft_ = 0;        // timerStormForTest
  uint64_t stormRuns_ = 0;
};

}  // namespace diarkis_node
