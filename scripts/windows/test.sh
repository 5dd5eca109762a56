#!/usr/bin/env bash
# Cross-builds the win32-x64 core (the socket runtime on WSAPoll included), its native
# unit tests (the loopback TCP/UDP client suites included) and the Node-API addon smoke
# with mingw-w64; checks that they import only Windows system DLLs (a mingw runtime
# DLL such as libwinpthread-1.dll would be missing on a user's machine); runs the
# tests under wine, then loads the smoke addon from a renamed node.exe.
# Needs scripts/windows/setup.sh and npm ci first. Usage: bash scripts/windows/test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/windows/env.sh
dir="${BUILD_DIR:-build/win64}"

test -f node_modules/node-api-headers/def/node_api.def || { echo "windows: run npm ci first" >&2; exit 1; }
toolchain=(-DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake)
test -f "$dir/CMakeCache.txt" && toolchain=()  # set once: cmake warns when it is given again
cmake -S . -B "$dir" "${toolchain[@]}" \
      -DCMAKE_BUILD_TYPE=Release -DDIARKIS_BUILD_TESTS=ON -DDIARKIS_WIN_NODE_EXE="$DIARKIS_WIN_NODE" >/dev/null
cmake --build "$dir" -j 2 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
exe="$dir/diarkis_native_tests.exe"
test -f "$exe" || { echo "windows: the native tests failed to build" >&2; exit 1; }

smoke="$dir/diarkis_addon_smoke.node"
bash scripts/windows/check-imports.sh "$exe" "$smoke"

# gtest writes to a file: output of Windows programs to a pipe is unreliable under wine.
out="$dir/native-tests.txt"
rc=0
(cd "$dir" && timeout 300 "$DIARKIS_WINE" ./diarkis_native_tests.exe --gtest_brief=1 \
   --gtest_output="xml:native-tests.xml" >native-tests.txt 2>&1) || rc=$?
cat "$out"
if [ "$rc" != 0 ]; then
  echo "windows: native tests failed under wine (exit $rc)" >&2
  exit 1
fi
grep -q "PASSED" "$out" || { echo "windows: no gtest summary in $out" >&2; exit 1; }
echo "windows: native tests passed under wine ($(grep -o '[0-9]* tests from' "$out" | head -1 | cut -d' ' -f1) tests)"

bash scripts/windows/addon-smoke.sh "$smoke"
