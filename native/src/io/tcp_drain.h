// TcpDrain: the old node's socket after a migrate answer (PROTOCOL 7.5). The node
// half-closes after the answer and reads until our end; we end our side, read and
// discard whatever still arrives until its EOF (or lingerMs), then close. Closing
// at once with unread bytes would send a reset instead of a clean close.
// A LoopHandler of its own, under a fresh id, so it outlives nothing it needs.
#pragma once
#include "io/loop.h"
#include "io/socket_shim.h"

namespace diarkis {

class TcpDrain final : public LoopHandler {
 public:
  // Takes the socket (already removed from the poller) and registers it under its own id.
  static void start(Loop& loop, UniqueSocket fd, double deadline);

  TcpDrain(Loop& loop, uint64_t id, UniqueSocket fd) : loop_(loop), id_(id), fd_(std::move(fd)) {}

  void onReady(const PollEvent& ev, double now) override {
    (void)ev;
    (void)now;
    for (int i = 0; i < 16; ++i) {
      const long n = recvBytes(fd_.get(), loop_.readBuffer(), loop_.readBufferSize());  // non-blocking
      if (n > 0) continue;
      if (n < 0 && isTransientSocketError(lastSocketError())) return;
      finish();  // EOF or an error: done
      return;
    }
  }
  void onTimer(double now) override {
    (void)now;
    finish();
  }
  void flush(double now) override { (void)now; }
  void abandon() override { closeFd(); }

 private:
  void closeFd() {
    if (!fd_) return;
    loop_.poller().remove(fd_.get());
    fd_.reset();
  }
  void finish() {
    closeFd();
    loop_.detach(id_);  // destroyed at the end of the iteration
  }

  Loop& loop_;
  const uint64_t id_;
  UniqueSocket fd_;
};

inline void TcpDrain::start(Loop& loop, UniqueSocket fd, double deadline) {
  (void)shutdownWrite(fd.get());  // our end: the node may close as soon as it reads it
  const auto id = static_cast<uint64_t>(allocateClientId());
  const SocketHandle raw = fd.get();
  auto drain = std::make_shared<TcpDrain>(loop, id, std::move(fd));
  if (!loop.poller().add(raw, id, false)) return;  // drain's destructor closes the socket
  loop.attach(id, drain);
  loop.schedule(id, deadline);
}

}  // namespace diarkis
