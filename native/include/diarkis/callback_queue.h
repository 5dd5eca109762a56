// CallbackQueue: where a client's callbacks run, when the caller chooses.
//
// By default a DiarkisTcpBase/DiarkisUdpBase runs its On* callbacks on the
// network thread. Give it a CallbackQueue (TcpOptions::callbacks,
// UdpOptions::callbacks) and its callbacks wait there instead, until the owner
// of the queue calls Poll() on its own thread: once a frame in a game loop, as a
// Cocos scheduler or Unreal tick wants. Callbacks then run on the polling thread,
// may block it (only that thread), and may call Detach() on their own client.
// Events keep their order per client; one queue may serve many clients.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace diarkis {

class CallbackQueue {
 public:
  // Runs the waiting callback batches (at most maxBatches) on the calling thread,
  // waiting up to timeoutMs for the first (0: do not wait; < 0: until one or
  // Wake()). Returns the number of batches run. One thread at a time.
  size_t Poll(int timeoutMs = 0, size_t maxBatches = SIZE_MAX);
  // Makes a waiting Poll() return.
  void Wake();
  // Batches waiting now.
  size_t Pending() const;

  // The clients' side (network thread): a batch of one client's callbacks.
  void Post(std::function<void()> batch);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> batches_;
  bool woken_ = false;
};

}  // namespace diarkis
