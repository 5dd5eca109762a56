// A growable circular buffer: push at the back, pop at the front, index from the
// front. Allocates nothing until the first push (an idle session holds none) and
// grows by doubling; the storage is kept, so a steady stream does not allocate.
#pragma once
#include <cstddef>
#include <memory>
#include <utility>

namespace diarkis {
namespace rudp {

template <typename T>
class Ring {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(T v) {
    if (size_ == cap_) grow();
    buf_[(head_ + size_) & (cap_ - 1)] = std::move(v);
    ++size_;
  }
  void pop_front() {
    buf_[head_] = T();
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
  }
  void clear() {
    while (size_ > 0) pop_front();
    head_ = 0;
  }
  // Frees the storage too (used when a burst is over).
  void release() {
    buf_.reset();
    cap_ = size_ = head_ = 0;
  }

 private:
  void grow() {
    const size_t cap = cap_ == 0 ? 2 : cap_ * 2;  // small first: an idle session holds one echo
    std::unique_ptr<T[]> next(new T[cap]);
    for (size_t i = 0; i < size_; ++i) next[i] = std::move((*this)[i]);
    buf_ = std::move(next);
    cap_ = cap;
    head_ = 0;
  }
  std::unique_ptr<T[]> buf_;
  size_t cap_ = 0;
  size_t size_ = 0;
  size_t head_ = 0;
};

}  // namespace rudp
}  // namespace diarkis
