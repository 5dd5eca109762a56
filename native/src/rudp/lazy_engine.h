// A per-session random engine made only when first used: std::mt19937_64 is
// 2.5 KiB, and only a session that retries a migration ever draws from it.
// Converts to the engine, so callers that take std::mt19937_64& use it as is.
#pragma once
#include <cstdint>
#include <memory>
#include <random>

namespace diarkis {
namespace rudp {

class LazyEngine {
 public:
  explicit LazyEngine(uint64_t seed) : seed_(seed) {}
  operator std::mt19937_64&() {  // NOLINT(google-explicit-constructor): a drop-in for the engine
    if (!engine_) engine_ = std::make_unique<std::mt19937_64>(seed_ != 0 ? seed_ : std::random_device{}());
    return *engine_;
  }

 private:
  uint64_t seed_;  // 0: seeded from std::random_device
  std::unique_ptr<std::mt19937_64> engine_;
};

}  // namespace rudp
}  // namespace diarkis
