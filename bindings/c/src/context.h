// dk_context: one network-thread Runtime, the core's EventQueue that the
// clients' callbacks fill and dk_poll drains, and the table of client ids.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "diarkis/runtime.h"
#include "diarkis/stats.h"
#include "diarkis/tcp_client.h"
#include "events/event_queue.h"

namespace diarkis_c {

class Room;

// What the entry points see of a client, whatever its transport.
class Client {
 public:
  virtual ~Client() = default;
  virtual diarkis::ErrorCode connect(const std::string& host, uint16_t port, const diarkis::SessionKeys& keys) = 0;
  virtual diarkis::ErrorCode send(uint8_t ver, uint16_t cmd, const uint8_t* data, size_t len, bool reliable,
                                  bool* writable) = 0;
  virtual diarkis::ErrorCode migrate() = 0;
  virtual void close() = 0;
  virtual diarkis::ClientState state() const = 0;
  virtual diarkis::StatsSnapshot stats() const = 0;
  virtual Room& room() = 0;
};

// The clients' side of the context: where their callbacks (network thread) post.
class Sink {
 public:
  void post(int id, diarkis::Event&& ev);
  // A waiting poller returns (with what is queued, possibly nothing).
  void wake();
  // Waits until an event is queued, wake() was called, or timeoutMs passed (< 0: no bound).
  void wait(int timeoutMs);

  diarkis::EventQueue queue;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
};

}  // namespace diarkis_c

struct dk_context {
  dk_context();
  ~dk_context();

  // > 0: the new id. Ids come from a counter (the whole id is its generation), so
  // a freed id returns only after 2^31 - 1 creations.
  int add(std::shared_ptr<diarkis_c::Client> client);
  std::shared_ptr<diarkis_c::Client> find(int id);
  std::shared_ptr<diarkis_c::Client> remove(int id);

  std::shared_ptr<diarkis::Runtime> runtime;
  std::shared_ptr<diarkis_c::Sink> sink;
  std::vector<diarkis::QueuedEvent> batch;  // the last poll's events: payloads and texts live here

 private:
  std::mutex mu_;
  std::unordered_map<int, std::shared_ptr<diarkis_c::Client>> clients_;
  int next_ = 1;
};
