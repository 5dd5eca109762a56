#include "test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <stdexcept>

namespace diarkis::test {

SessionKeys testKeys(bool encrypted) {
  SessionKeys k;
  for (uint8_t i = 0; i < 16; ++i) {
    k.sid[i] = static_cast<uint8_t>(0xA0 + i);
    k.key[i] = static_cast<uint8_t>(0x10 + i);
    k.iv[i] = static_cast<uint8_t>(0x30 + i);
    k.macKey[i] = static_cast<uint8_t>(0x50 + i);
  }
  k.encrypted = encrypted;
  return k;
}

double readF64LE(const uint8_t* p) {
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(p[i]) << (8 * i);
  double v = 0;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

Bytes f64LE(double v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  Bytes out(8);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(bits >> (8 * i));
  return out;
}

ServerCodec::ServerCodec(const SessionKeys& keys) : crypto_(keys) {}

std::vector<Request> ServerCodec::feed(const uint8_t* data, size_t len) {
  std::vector<Request> out;
  buf_.insert(buf_.end(), data, data + len);
  size_t pos = 0;
  while (!failed_ && pos < buf_.size()) {
    Packet p;
    const ParseResult r = parseRequest(buf_.data() + pos, buf_.size() - pos, wire::kDefaultMaxPayload, p);
    if (r.status == ParseStatus::NeedMore) break;
    if (r.status == ParseStatus::Error || p.payload.size() < wire::kSidSize ||
        std::memcmp(p.payload.data(), crypto_.keys().sid.data(), wire::kSidSize) != 0) {
      failed_ = true;
      break;
    }
    pos += r.consumed;
    Request req;
    req.ver = p.ver;
    req.cmd = p.cmd;
    DropReason reason{};
    if (!crypto_.open(p.payload.data() + wire::kSidSize, p.payload.size() - wire::kSidSize, req.body, reason)) {
      failed_ = true;
      break;
    }
    if (req.ver == 0 && req.cmd == wire::kCmdKeepAlive && req.body.size() >= 8) req.timestamp = readF64LE(req.body.data());
    out.push_back(std::move(req));
  }
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos));
  return out;
}

Bytes ServerCodec::packet(uint8_t ver, uint16_t cmd, uint8_t status, const Bytes& body) {
  Bytes sealed;
  crypto_.seal(body.data(), body.size(), sealed);
  Bytes out;
  appendResponse(out, ver, cmd, status, sealed.data(), sealed.size());
  return out;
}

Bytes ServerCodec::heartbeatAnswer(uint8_t nodeState, double ts) {
  Bytes body{nodeState};
  const Bytes t = f64LE(ts);
  body.insert(body.end(), t.begin(), t.end());
  return packet(0, wire::kCmdKeepAlive, wire::kStatusOk, body);
}

Bytes ServerCodec::offlineNotice() {
  Bytes body{wire::kNodeOffline};
  const Bytes t = f64LE(0);
  body.insert(body.end(), t.begin(), t.end());
  return packet(0, wire::kCmdKeepAlive, wire::kStatusPush, body);
}

Bytes ServerCodec::fin(const std::string& reason) {
  return packet(0, wire::kCmdFin, wire::kStatusPush, Bytes(reason.begin(), reason.end()));
}

Bytes ServerCodec::tampered(uint8_t ver, uint16_t cmd, uint8_t status, const Bytes& body) {
  Bytes p = packet(ver, cmd, status, body);
  p.back() ^= 0x01;  // last ciphertext byte: the HMAC no longer matches
  return p;
}

// ---------------------------------------------------------------------------

struct TestServer::Conn {
  int fd = -1;
  ServerCodec codec;
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  void write(const Bytes& b) {
    size_t off = 0;
    while (off < b.size()) {
      const ssize_t n = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;  // peer gone: the read side will notice
      off += static_cast<size_t>(n);
    }
  }
};

TestServer::TestServer() {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      ::listen(listenFd_, 512) != 0 || ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 ||
      ::pipe(wakePipe_) != 0) {
    throw std::runtime_error("TestServer: cannot listen");
  }
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

TestServer::~TestServer() {
  stop_ = true;
  wake();
  thread_.join();
  ::close(listenFd_);
  ::close(wakePipe_[0]);
  ::close(wakePipe_[1]);
}

void TestServer::wake() {
  const char c = 1;
  [[maybe_unused]] ssize_t n = ::write(wakePipe_[1], &c, 1);
}

void TestServer::broadcast(const std::function<Bytes(ServerCodec&)>& make) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    commands_.push_back([this, make] {
      for (auto& c : conns_) c->write(make(c->codec));
    });
  }
  wake();
}

void TestServer::closeAll() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    commands_.push_back([this] { conns_.clear(); });
  }
  wake();
}

void TestServer::handle(Conn& c, const Request& r) {
  requests_++;
  if (r.ver == 0 && r.cmd == wire::kCmdKeepAlive) {
    if (answerHeartbeats) c.write(c.codec.heartbeatAnswer(nodeState, r.timestamp));
  } else if (r.ver == 2 && r.cmd == 1) {
    c.write(c.codec.packet(2, 1, wire::kStatusOk, r.body));
  } else if (r.ver == 2 && r.cmd == 3) {
    c.write(c.codec.push(2, 3, r.body));
  }
}

void TestServer::run() {
  std::vector<pollfd> pfds;
  uint8_t buf[16384];
  while (!stop_) {
    pfds.clear();
    pfds.push_back({listenFd_, POLLIN, 0});
    pfds.push_back({wakePipe_[0], POLLIN, 0});
    for (auto& c : conns_) pfds.push_back({c->fd, POLLIN, 0});
    if (::poll(pfds.data(), pfds.size(), 1000) < 0) continue;
    if (pfds[1].revents & POLLIN) {
      [[maybe_unused]] ssize_t n = ::read(wakePipe_[0], buf, sizeof buf);
    }
    std::vector<std::function<void()>> cmds;
    {
      std::lock_guard<std::mutex> lk(mu_);
      cmds.swap(commands_);
    }
    // Poll results index the connections as they were before the commands ran.
    std::vector<Conn*> polled;
    for (auto& c : conns_) polled.push_back(c.get());
    std::vector<bool> readable(polled.size());
    for (size_t i = 0; i < polled.size(); ++i) readable[i] = pfds[i + 2].revents != 0;
    for (auto& fn : cmds) fn();
    std::vector<Conn*> dead;
    for (size_t i = 0; i < polled.size(); ++i) {
      if (!readable[i]) continue;
      bool alive = false;
      for (auto& c : conns_) alive = alive || c.get() == polled[i];
      if (!alive) continue;
      Conn& c = *polled[i];
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n <= 0) {
        dead.push_back(&c);
        continue;
      }
      bool closeIt = false;
      for (const Request& r : c.codec.feed(buf, static_cast<size_t>(n))) {
        if (r.ver == 2 && r.cmd == 9) closeIt = true;
        if (!closeIt) handle(c, r);
      }
      if (c.codec.failed()) protoErrors_ = true;
      if (closeIt) dead.push_back(&c);
    }
    for (Conn* d : dead) {
      for (size_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].get() == d) {
          conns_.erase(conns_.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
      }
    }
    if (pfds[0].revents & POLLIN) {
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        conns_.push_back(std::move(c));
        accepted_++;
      }
    }
  }
  conns_.clear();
}

uint16_t closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

}  // namespace diarkis::test
