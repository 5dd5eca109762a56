#!/usr/bin/env bash
# The package on Windows, as a Windows user gets it, proven under wine:
#   1. `npm pack` with DIARKIS_PREBUILD_WIN32=1 (prepack cross-builds the win32-x64 prebuild);
#   2. the tarball installed into a fresh project (npm on Linux, --ignore-scripts),
#      then the package's install script run by Windows node.exe in the installed
#      package, as npm on Windows would run it (npm itself is not run under wine);
#   3. the package used from a renamed node.exe (game-launcher.exe, as an Electron
#      app is not called node.exe) under wine against a reference cluster started on
#      Linux by the installed package's CLI: TCP and UDP, io 'loop' and 'thread':
#      connect, request, a push, the offline notice, the migration, the counter kept.
# Needs scripts/windows/setup.sh and npm ci. Usage: bash scripts/windows/package-test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/windows/env.sh
REPO=$(pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/diarkis-winpack.XXXXXX")
CLUSTER_PID=""
cleanup() {
  [ -n "$CLUSTER_PID" ] && kill "$CLUSTER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export npm_config_cache="${npm_config_cache:-$(npm config get cache)}"
fail() { echo "windows package-test: FAIL: $*" >&2; exit 1; }
step() { echo "--- windows package-test: $* ($(date +%T))"; }

step "npm pack with the win32-x64 prebuild"
DIARKIS_PREBUILD_WIN32=1 npm pack --pack-destination "$WORK" --loglevel=error >"$WORK/pack.out"
TGZ="$WORK/$(tail -n1 "$WORK/pack.out")"
tar tzf "$TGZ" >"$WORK/files"  # a file, not a pipe: grep -q would cut tar off (pipefail)
grep -qx package/prebuilds/win32-x64/node.napi.node "$WORK/files" || fail "the tarball has no win32-x64 prebuild"
grep -qx package/prebuilds/linux-x64/node.napi.glibc.node "$WORK/files" || fail "the tarball lost the linux-x64 prebuild"
echo "tarball: $(basename "$TGZ") with prebuilds/win32-x64/node.napi.node"

step "install into a fresh project"
APP="$WORK/app"
mkdir -p "$APP"
(cd "$APP" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund --prefer-offline \
   --loglevel=error "$TGZ" >/dev/null)
PKG="$APP/node_modules/diarkis-node"
test -f "$PKG/prebuilds/win32-x64/node.napi.node" || fail "the installed package has no win32-x64 prebuild"
cp "$DIARKIS_WIN_NODE" "$APP/game-launcher.exe"

step "the install script, run by Windows node.exe in the installed package"
# Output to a file: node.exe's stdout to a pipe fails under wine (EBADF).
rc=0
(cd "$PKG" && timeout 120 "$DIARKIS_WINE" "$APP/game-launcher.exe" scripts/install.js >"$WORK/install.txt" 2>&1) || rc=$?
cat "$WORK/install.txt"
[ "$rc" = 0 ] || fail "scripts/install.js exited $rc under Windows node.exe"
[ -e "$PKG/build" ] && fail "the install script built something although the prebuild should load"
echo "install script: exit 0, the win32-x64 prebuild loads, nothing built"

step "the package from game-launcher.exe against a cluster on Linux"
node "$PKG/dist/src/cli/main.js" cluster --tcp 2 --udp 2 --shutdown-timeout 30000 >"$WORK/cluster.txt" 2>&1 &
CLUSTER_PID=$!
for _ in $(seq 1 100); do  # bounded: the cluster prints its URLs within a second or two
  grep -qs '^admin http' "$WORK/cluster.txt" && break
  kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$WORK/cluster.txt"; fail "the cluster exited"; }
  sleep 0.2
done
ENTRY=$(awk '/^entry http/ {print $2}' "$WORK/cluster.txt")
ADMIN=$(awk '/^admin http/ {print $2}' "$WORK/cluster.txt")
[ -n "$ENTRY" ] && [ -n "$ADMIN" ] || fail "the cluster printed no URLs"
cp test/windows/package-scenario.cjs "$APP/"
rc=0
(cd "$APP" && timeout 300 "$DIARKIS_WINE" ./game-launcher.exe package-scenario.cjs "$ENTRY" "$ADMIN" result.txt \
   >/dev/null 2>"$WORK/scenario.err") || rc=$?
cat "$APP/result.txt" 2>/dev/null || true
if [ "$rc" != 0 ] || ! grep -qx PASS "$APP/result.txt" 2>/dev/null; then
  tail -n 20 "$WORK/scenario.err" >&2
  fail "the scenario under wine did not pass (exit $rc)"
fi
step "passed"
