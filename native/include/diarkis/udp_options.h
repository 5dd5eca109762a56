// Options of the client's UDP session. Defaults are the wire defaults of
// PROTOCOL.md section 4 and the (ours) choices beside them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "diarkis/callback_queue.h"
#include "diarkis/codec.h"

namespace diarkis {

struct UdpOptions {
  double connectTimeoutMs = 10000;   // SYN repeated until answered or this passes
  double synIntervalMs = 500;        // (ours) SYN repeat interval; after 4 repeats it doubles, up to 8x
  double echoIntervalMs = 5000;      // reliable echo (ver 0 cmd 1) cadence
  uint32_t echoMissLimit = 3;        // no echo answer for this many intervals -> timeout
  double retryMinMs = 1000;          // first resend interval, doubling ...
  double retryMaxMs = 8000;          // ... up to this
  uint32_t maxRetries = 10;          // resends of one DAT before the connection timed out
  bool adaptive = true;              // (ours) SRTT + 4 RTTVAR, clamped to [rtoMinMs, retryMaxMs]; see docs/decisions.md
  double rtoMinMs = 100;
  size_t sendWindow = 256;           // unacknowledged DATs in flight; the rest wait locally
  size_t recvWindow = 1024;          // receive span: out-of-order DATs buffered (only while a gap exists)
  uint32_t maxPayload = wire::kDefaultMaxPayload;
  size_t maxDatagramBody = 1400;     // bytes after the 4-byte transport header
  // (ours) Small reliable sends share a DAT; one that is not full waits this long for more
  // while DATs of ours are in flight and the peer sent no new DAT since our latest (sends from
  // JS reach the network thread one by one; a lone send, or one after an answer, goes at
  // once), ACK records likewise unless a DAT goes with them.
  double packDelayMs = 1;
  double ackDelayMs = 2;
  size_t fragmentSize = 1300;        // reliable packets above this are cut into chunks
  double closeTimeoutMs = 5000;      // graceful close: bound on flushing unacknowledged DATs
  size_t highWaterMark = 1u << 20;   // send() reports !writable at or past this many queued bytes
  size_t maxQueuedBytes = 64u << 20; // send() refuses (QueueFull) past this
  // (ours) Receive bound, for hosts that queue events (the Node addon, the C ABI):
  // past this many bytes of received events not yet taken by the host's consumer,
  // reading pauses (TCP: the socket is not read; UDP: new reliable DATs are not
  // acknowledged, unreliable ones dropped) until the consumer takes them down to
  // half of it. While paused, heartbeat/echo misses do not count, up to
  // maxReceiveStallMs: then the session ends with ReceiveStalled.
  size_t receiveHighWaterMark = 4u << 20;
  double maxReceiveStallMs = 60000;
  std::string clientKey;             // sent reliably as ver 0 cmd 4 after the handshake, if set
  std::vector<std::string> localAddresses;  // "ip:port" list carried by every echo

  // Live migration (PROTOCOL section 7), the same knobs as TcpOptions.
  // autoMigrate: the session calls SendMigrate itself on the offline notice and
  // retries after no-target (the C++ SDK's default is manual).
  bool autoMigrate = false;
  double handoffTtlMs = 30000;       // claim retries stop this long after the migrate answer
  double migrateRetryMinMs = 200;    // capped, jittered exponential backoff of claim
  double migrateRetryMaxMs = 5000;   //   retries and of automatic no-target retries
  double lingerMs = 5000;            // the old node's link acknowledges retransmissions until its FIN or this
  uint64_t rngSeed = 0;              // backoff jitter; 0 = seeded from std::random_device

  // Where the On* callbacks run: null = on the network thread (must not block);
  // a CallbackQueue = on whichever thread calls its Poll() (callback_queue.h).
  std::shared_ptr<CallbackQueue> callbacks;
};

}  // namespace diarkis
