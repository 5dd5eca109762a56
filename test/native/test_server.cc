#include "test_server.h"

#include <cstring>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "io/poller.h"

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

namespace {

// A listening (or, with listen=false, bound) TCP socket on 127.0.0.1:0; its port.
UniqueSocket bindLoopback(uint16_t& port, bool listen) {
  UniqueSocket s(openSocket(AF_INET, SOCK_STREAM));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
      (listen && ::listen(s.get(), 512) != 0) ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw std::runtime_error("TestServer: cannot listen: " + socketErrorText(lastSocketError()));
  }
  port = ntohs(a.sin_port);
  return s;
}

constexpr uint64_t kListenKey = 0;
constexpr uint64_t kWakeKey = 1;

}  // namespace

// A blocking socket: read only when the poller says readable, written in full.
struct TestServer::Conn {
  UniqueSocket fd;
  uint64_t key = 0;
  ServerCodec codec;
  void write(const Bytes& b) {
    size_t off = 0;
    while (off < b.size()) {
      const long n = sendBytes(fd.get(), b.data() + off, b.size() - off);
      if (n <= 0) return;  // peer gone: the read side will notice
      off += static_cast<size_t>(n);
    }
  }
};

TestServer::TestServer() {
  listen_ = bindLoopback(port_, true);
  thread_ = std::thread([this] { run(); });
}

TestServer::~TestServer() {
  stop_ = true;
  wake();
  thread_.join();
}

void TestServer::wake() { waker_.signal(); }

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
  std::unique_ptr<Poller> poller = makeDefaultPoller();
  poller->add(listen_.get(), kListenKey, false);
  poller->add(waker_.handle(), kWakeKey, false);
  std::unordered_map<uint64_t, Conn*> byKey;
  uint64_t nextKey = kWakeKey + 1;
  std::vector<PollEvent> ready;
  uint8_t buf[16384];
  while (!stop_) {
    ready.clear();
    poller->wait(ready, 1000);
    bool acceptable = false;
    std::vector<uint64_t> readable;
    for (const PollEvent& ev : ready) {
      if (ev.key == kWakeKey) waker_.drain();
      else if (ev.key == kListenKey) acceptable = true;
      else readable.push_back(ev.key);
    }
    std::vector<std::function<void()>> cmds;
    {
      std::lock_guard<std::mutex> lk(mu_);
      cmds.swap(commands_);
    }
    std::unordered_map<uint64_t, SocketHandle> handles;
    for (auto& c : conns_) handles[c->key] = c->fd.get();
    for (auto& fn : cmds) fn();
    // A command may have closed connections (closeAll): the poller forgets their
    // handles before an accept can reuse one.
    byKey.clear();
    for (auto& c : conns_) byKey[c->key] = c.get();
    for (auto& [key, h] : handles) {
      if (byKey.count(key) == 0) poller->remove(h);
    }
    std::vector<Conn*> dead;
    for (uint64_t key : readable) {
      auto it = byKey.find(key);
      if (it == byKey.end()) continue;
      Conn& c = *it->second;
      const long n = recvBytes(c.fd.get(), buf, sizeof buf);
      if (n < 0 && isTransientSocketError(lastSocketError())) continue;
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
          byKey.erase(d->key);
          poller->remove(d->fd.get());
          conns_.erase(conns_.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
      }
    }
    // The listener is non-blocking: take every connection that is waiting.
    for (int i = 0; acceptable && i < 64; ++i) {
      const SocketHandle fd = ::accept(listen_.get(), nullptr, nullptr);
      if (fd == kInvalidSocket) break;
      auto c = std::make_unique<Conn>();
      c->fd = UniqueSocket(fd);
      c->key = nextKey++;
      setNonBlocking(fd, false);  // accepted sockets inherit non-blocking on Windows
      poller->add(fd, c->key, false);
      byKey[c->key] = c.get();
      conns_.push_back(std::move(c));
      accepted_++;
    }
  }
  conns_.clear();
}

uint16_t closedPort() {
  uint16_t port = 0;
  bindLoopback(port, false);  // closed again at once
  return port;
}

}  // namespace diarkis::test
