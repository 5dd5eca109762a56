#!/usr/bin/env bash
# Loads the cross-built Node-API smoke addon (test/windows/addon_smoke.cc) in Windows
# node.exe under wine, from a copy renamed game-launcher.exe in a folder with no
# node.exe: the delay-load hook must map the addon's node.exe imports to the running
# executable, as it must in Electron. Checks that Node-API and libuv calls work.
# Usage: bash scripts/windows/addon-smoke.sh build/win64/diarkis_addon_smoke.node
set -euo pipefail
source "$(dirname "$0")/env.sh"
addon="$(realpath "$1")"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cp "$DIARKIS_WIN_NODE" "$dir/game-launcher.exe"
cp "$addon" "$dir/smoke.node"
# Results go to a file: node.exe's stdout to a pipe fails under wine (EBADF).
(cd "$dir" && timeout 120 "$DIARKIS_WINE" ./game-launcher.exe -e "
  const fs = require('fs');
  let line;
  try {
    const got = require('./smoke.node').hello();
    const want = 'diarkis-win-smoke uv ' + process.versions.uv;
    line = got === want ? 'ok ' + got : 'mismatch: ' + got + ' != ' + want;
  } catch (e) { line = 'error: ' + e.message; }
  fs.writeFileSync('result.txt', line + ' (' + require('path').basename(process.execPath) + ')');
" >/dev/null 2>&1) || true
result="$(cat "$dir/result.txt" 2>/dev/null || echo 'no result: the process died loading the addon')"
echo "addon smoke: $result"
[[ "$result" == ok* ]]
