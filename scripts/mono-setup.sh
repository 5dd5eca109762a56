#!/usr/bin/env bash
# Mono for the C# (Unity) binding's test: Debian's mono-mcs (the compiler) and
# mono-runtime. Installs them when missing (root, Debian's apt).
set -euo pipefail
if command -v mcs >/dev/null && command -v mono >/dev/null; then exit 0; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends mono-mcs mono-runtime >/dev/null
