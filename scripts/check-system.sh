#!/usr/bin/env bash
# Checks the system packages the build and the tests need (README "Requirements").
# As root it installs what is missing with apt-get; otherwise it prints the exact
# apt-get line to run and exits non-zero.
set -euo pipefail
PACKAGES=(cmake g++ make python3 libssl-dev libgtest-dev clang libclang-rt-14-dev redis-server valgrind nlohmann-json3-dev)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "check-system: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  exit 0
fi
echo "check-system: missing system packages: ${missing[*]}" >&2
echo "run: sudo apt-get install -y ${missing[*]}" >&2
exit 1
