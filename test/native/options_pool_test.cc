// The addon's options pool (bindings/node/options_pool.h): one shared options object per
// distinct set while a client holds it, and bounded by the sets alive.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "../../bindings/node/options_pool.h"
#include "diarkis/udp_options.h"

namespace diarkis_node {
namespace {

std::string keyOf(const diarkis::UdpOptions& o) {
  std::string k;
  keyField(k, o.echoIntervalMs);
  keyField(k, o.clientKey);
  return k;
}

std::shared_ptr<const diarkis::UdpOptions> intern(OptionsPool<diarkis::UdpOptions>& pool, double echo,
                                                  const std::string& clientKey = "") {
  diarkis::UdpOptions o;
  o.echoIntervalMs = echo;
  o.clientKey = clientKey;
  std::string k = keyOf(o);
  return pool.intern(std::move(k), std::move(o));
}

TEST(OptionsPool, EqualSetsShareOneObjectAndDifferentOnesDoNot) {
  OptionsPool<diarkis::UdpOptions> pool;
  auto a = intern(pool, 5000);
  auto b = intern(pool, 5000);
  auto c = intern(pool, 2000);
  auto d = intern(pool, 5000, "player-1");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  EXPECT_NE(a.get(), d.get());
  EXPECT_EQ(c->echoIntervalMs, 2000);
  EXPECT_EQ(d->clientKey, "player-1");
  EXPECT_EQ(a.use_count(), 2);  // the pool holds no strong reference
}

TEST(OptionsPool, ASetIsMadeAgainOnceItsLastHolderIsGone) {
  OptionsPool<diarkis::UdpOptions> pool;
  auto a = intern(pool, 5000);
  a.reset();
  auto b = intern(pool, 5000);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->echoIntervalMs, 5000);
  EXPECT_EQ(b.use_count(), 1);
}

// A per-user clientKey makes every set distinct: released sets are swept, so the pool is
// bounded by the sets alive, not by every set ever made.
TEST(OptionsPool, StaysBoundedByTheSetsAlive) {
  OptionsPool<diarkis::UdpOptions> pool;
  std::vector<std::shared_ptr<const diarkis::UdpOptions>> alive;
  for (int i = 0; i < 10000; ++i) {
    auto o = intern(pool, 5000, "user-" + std::to_string(i));
    if (i % 100 == 0) alive.push_back(o);  // 1 in 100 stays
  }
  EXPECT_EQ(alive.size(), 100u);
  EXPECT_LE(pool.size(), 2 * alive.size() + 16);
  for (const auto& o : alive) EXPECT_EQ(o.get(), intern(pool, 5000, o->clientKey).get());
}

}  // namespace
}  // namespace diarkis_node
