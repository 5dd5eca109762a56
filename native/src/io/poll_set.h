// The registration table behind the poll() and WSAPoll() pollers: a dense array
// handed to the kernel as is, plus the owner's key per entry and an index by handle
// so that add/modify/remove cost O(1) (swap-remove), like epoll_ctl.
// PollFd is struct pollfd or WSAPOLLFD: { handle fd; short events; short revents; }.
#pragma once
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "io/poller.h"

namespace diarkis {

template <typename PollFd, typename Handle>
class PollSet {
 public:
  // readMask/writeMask: the events bits asked for readability and writability.
  PollSet(short readMask, short writeMask) : readMask_(readMask), writeMask_(writeMask) {}

  // Same contract as epoll_ctl: adding a handle twice or modifying an unknown one fails.
  bool add(Handle h, uint64_t key, bool wantWrite) {
    if (index_.count(h) != 0) return false;
    PollFd p{};
    p.fd = h;
    p.events = mask(wantWrite);
    index_.emplace(h, fds_.size());
    fds_.push_back(p);
    keys_.push_back(key);
    return true;
  }

  bool modify(Handle h, uint64_t key, bool wantWrite) {
    auto it = index_.find(h);
    if (it == index_.end()) return false;
    fds_[it->second].events = mask(wantWrite);
    keys_[it->second] = key;
    return true;
  }

  void remove(Handle h) {
    auto it = index_.find(h);
    if (it == index_.end()) return;
    const size_t i = it->second;
    const size_t last = fds_.size() - 1;
    if (i != last) {
      fds_[i] = fds_[last];
      keys_[i] = keys_[last];
      index_[fds_[i].fd] = i;
    }
    fds_.pop_back();
    keys_.pop_back();
    index_.erase(it);
  }

  PollFd* data() { return fds_.data(); }
  size_t size() const { return fds_.size(); }

  // After the kernel filled revents: append one PollEvent per ready entry.
  // hupBits/errBits: the revents bits that mean hang-up and error.
  int collect(std::vector<PollEvent>& out, short hupBits, short errBits) const {
    int n = 0;
    for (size_t i = 0; i < fds_.size(); ++i) {
      const short r = fds_[i].revents;
      if (r == 0) continue;
      PollEvent pe;
      pe.key = keys_[i];
      pe.readable = (r & readMask_) != 0;
      pe.writable = (r & writeMask_) != 0;
      pe.failed = (r & (hupBits | errBits)) != 0;
      out.push_back(pe);
      ++n;
    }
    return n;
  }

 private:
  short mask(bool wantWrite) const {
    return static_cast<short>(readMask_ | (wantWrite ? writeMask_ : 0));
  }

  short readMask_;
  short writeMask_;
  std::vector<PollFd> fds_;
  std::vector<uint64_t> keys_;
  std::unordered_map<Handle, size_t> index_;
};

}  // namespace diarkis
