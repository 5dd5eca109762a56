// Pieces of client-side migration (PROTOCOL.md section 7) that do not depend on the
// transport: decoding the migrate answer, describing a refusal, and the retry backoff.
// Used by TcpSession and UdpSession.
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include "diarkis/codec.h"

namespace diarkis {

struct MigrateTarget {
  std::string address;  // as the node sent it: "host:port" or "[v6]:port"
  std::string host;     // numeric host, brackets removed
  uint16_t port = 0;
  Bytes ticket;         // 16 bytes
};

// Status 1 body: addrLen:uint16 || UTF-8 address || ticket(16). False if malformed.
bool decodeMigrateAnswer(const Bytes& body, MigrateTarget& out);

// The message for a non-OK answer (no target: status 5, body uint16 1003).
std::string describeMigrateRefusal(uint8_t status, const Bytes& body);

// Capped exponential backoff with jitter in [base/2, base], base = minMs * 2^attempt
// capped at maxMs: many clients that failed together do not retry together.
double migrationBackoff(uint32_t attempt, double minMs, double maxMs, std::mt19937_64& rng);

}  // namespace diarkis
