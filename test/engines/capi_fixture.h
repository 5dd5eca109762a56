// What the C ABI's loopback tests share: a context per test, a client connected to
// a fake node (test/native/fake_node.h) with the test keys, and polling until an
// event type arrives, with every event seen copied out.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "capi_endpoint.h"
#include "diarkis.h"
#include "fake_node.h"

namespace capi_test {

struct Seen {
  int type;
  int code;
  uint8_t ver;
  uint8_t status;
  uint16_t cmd;
  std::string payload;
  std::string text;
  std::string text2;
};

// Polls until an event of `last` arrives (20 s bound); returns everything seen.
inline std::vector<Seen> pollUntil(dk_context* ctx, int last) {
  std::vector<Seen> seen;
  dk_event ev[16];
  for (int rounds = 0; rounds < 20; ++rounds) {
    const int n = dk_poll(ctx, ev, 16, 1000);
    for (int i = 0; i < n; ++i) {
      const char* p = reinterpret_cast<const char*>(ev[i].payload);
      seen.push_back({ev[i].type, ev[i].code, ev[i].ver, ev[i].status, ev[i].cmd,
                      p ? std::string(p, ev[i].len) : std::string(), ev[i].text ? ev[i].text : "",
                      ev[i].text2 ? ev[i].text2 : ""});
      if (ev[i].type == last) return seen;
    }
  }
  ADD_FAILURE() << "no event " << last;
  return seen;
}

class CapiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx = dk_context_create();
    ASSERT_NE(ctx, nullptr);
  }
  void TearDown() override { dk_context_destroy(ctx); }

  // A TCP client with options o, connected to node (DK_EV_CONNECT seen).
  int connected(const diarkis::test::FakeNode& node, const dk_options& o) {
    const int id = dk_tcp_create(ctx, &o);
    const diarkis::test::CapiEndpoint endpoint(node.port());
    EXPECT_EQ(dk_connect(ctx, id, &endpoint.ep), 0);
    pollUntil(ctx, DK_EV_CONNECT);
    return id;
  }

  dk_context* ctx = nullptr;
};

}  // namespace capi_test
