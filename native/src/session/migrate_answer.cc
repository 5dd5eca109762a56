#include "session/migrate_answer.h"

#include <algorithm>
#include <cmath>

namespace diarkis {
namespace {

constexpr uint16_t kNoTargetCode = 1003;  // PROTOCOL 7.4
constexpr size_t kTicketSize = 16;

// "host:port" or "[v6]:port" -> numeric host (brackets removed) + port. False if malformed.
bool splitHostPort(const std::string& addr, std::string& host, uint16_t& port) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= addr.size() || addr.size() - colon > 6) return false;
  unsigned long p = 0;
  for (size_t i = colon + 1; i < addr.size(); ++i) {
    if (addr[i] < '0' || addr[i] > '9') return false;
    p = p * 10 + static_cast<unsigned long>(addr[i] - '0');
  }
  if (p == 0 || p > 65535) return false;
  host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) return false;
  port = static_cast<uint16_t>(p);
  return true;
}

}  // namespace

bool decodeMigrateAnswer(const Bytes& body, MigrateTarget& out) {
  if (body.size() < 2) return false;
  const auto alen = static_cast<size_t>(body[0] << 8 | body[1]);
  if (body.size() != 2 + alen + kTicketSize) return false;
  out.address.assign(body.begin() + 2, body.begin() + 2 + static_cast<std::ptrdiff_t>(alen));
  if (!splitHostPort(out.address, out.host, out.port)) return false;
  out.ticket.assign(body.end() - static_cast<std::ptrdiff_t>(kTicketSize), body.end());
  return true;
}

std::string describeMigrateRefusal(uint8_t status, const Bytes& body) {
  std::string why = "no node could take the session";
  if (body.size() >= 2) {
    const auto code = static_cast<uint16_t>(body[0] << 8 | body[1]);
    why += " (status " + std::to_string(status) + ", code " + std::to_string(code) + ")";
    if (code != kNoTargetCode) why += ": unexpected code";
  }
  return why;
}

double migrationBackoff(uint32_t attempt, double minMs, double maxMs, std::mt19937_64& rng) {
  const double cap = std::max(minMs, maxMs);
  const double base = std::min(cap, minMs * std::ldexp(1.0, static_cast<int>(std::min(attempt, 30u))));
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  return base * jitter(rng);
}

}  // namespace diarkis
