#!/usr/bin/env bash
# bench/udp-loss setup (run once, not by the tests): the ENet anchor needs Debian's libenet-dev
# (ENet 1.3.17); builds build/bench/enet_echo. udx-native comes from npm (devDependency).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! dpkg -s libenet-dev >/dev/null 2>&1; then
  apt-get install -y libenet-dev
fi
mkdir -p build/bench
cc -O2 -Wall -Wextra -o build/bench/enet_echo bench/anchors/enet_echo.c -lenet
echo "built build/bench/enet_echo"
