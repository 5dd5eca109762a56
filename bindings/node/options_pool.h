// One immutable options object per distinct option set, shared by every client created
// with it (issue #10: memory per idle client; a copy is about 300 bytes, twice per client).
// Keyed by a byte string of every field (made by the caller); entries whose last
// client is gone are swept whenever the pool has doubled since the last sweep, so it stays
// bounded by the sets alive, even when every client has its own (a per-user clientKey).
// One per environment: the JS thread only.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace diarkis_node {

template <typename Options>
class OptionsPool {
 public:
  // `k`: every field of `o` as bytes (keyField below).
  std::shared_ptr<const Options> intern(std::string k, Options o) {
    auto it = pool_.find(k);
    if (it != pool_.end()) {
      if (auto live = it->second.lock()) return live;
    }
    auto made = std::make_shared<const Options>(std::move(o));
    pool_[std::move(k)] = made;
    if (pool_.size() >= 2 * swept_ + 16) sweep();
    return made;
  }

  size_t size() const { return pool_.size(); }

 private:
  void sweep() {
    for (auto it = pool_.begin(); it != pool_.end();) {
      it = it->second.expired() ? pool_.erase(it) : std::next(it);
    }
    swept_ = pool_.size();
  }

  std::unordered_map<std::string, std::weak_ptr<const Options>> pool_;
  size_t swept_ = 0;
};

// Appends a field's bytes to a key (scalars as their object representation).
template <typename T>
void keyField(std::string& k, const T& v) {
  k.append(reinterpret_cast<const char*>(&v), sizeof v);
}
inline void keyField(std::string& k, const std::string& v) {
  keyField(k, v.size());
  k.append(v);
}

}  // namespace diarkis_node
