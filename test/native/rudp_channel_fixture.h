// The set-up of the ReliableChannel tests: one channel and its counters per test, under a fake
// clock (every call is given its time; nothing here reads a clock).
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

#include "rudp/reliable.h"
#include "rudp_channel_out.h"

namespace diarkis {
namespace rudp {

class ChannelTest : public ::testing::Test {
 protected:
  // A channel not started yet (a test that sends before the handshake, or starts it its own way).
  ReliableChannel& make(const ReliableConfig& config) {
    channel_ = std::make_unique<ReliableChannel>(config, stats);
    return *channel_;
  }

  // A channel started at time 0 with these first sequence numbers (the handshake's outcome).
  ReliableChannel& open(const ReliableConfig& config, uint32_t sendSeq = 0, uint32_t recvSeq = 0) {
    ReliableChannel& ch = make(config);
    ch.start(sendSeq, recvSeq, 0);
    return ch;
  }

  // The counters of the channel (retransmits, drops by reason).
  Stats stats;

 private:
  std::unique_ptr<ReliableChannel> channel_;
};

}  // namespace rudp
}  // namespace diarkis
