// A dk_endpoint for test::testKeys() at 127.0.0.1:port, with the hex strings it points to.
#pragma once
#include <string>

#include "diarkis.h"
#include "fake_node.h"

namespace diarkis::test {

struct CapiEndpoint {
  explicit CapiEndpoint(uint16_t port)
      : sid(toHex(testKeys().sid.data(), 16)), key(toHex(testKeys().key.data(), 16)),
        iv(toHex(testKeys().iv.data(), 16)), mac(toHex(testKeys().macKey.data(), 16)) {
    ep.struct_size = sizeof ep;
    ep.host = "127.0.0.1";
    ep.port = port;
    ep.sid_hex = sid.c_str();
    ep.key_hex = key.c_str();
    ep.iv_hex = iv.c_str();
    ep.mac_key_hex = mac.c_str();
  }
  CapiEndpoint(const CapiEndpoint&) = delete;
  CapiEndpoint& operator=(const CapiEndpoint&) = delete;

  std::string sid, key, iv, mac;
  dk_endpoint ep{};
};

}  // namespace diarkis::test
