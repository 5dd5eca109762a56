#!/usr/bin/env bash
# The win32-x64 prebuild: cross-builds the addon (cmake/windows-addon.cmake) with
# mingw-w64 and puts it where the loader looks, prebuilds/win32-x64/node.napi.node,
# after checking that it imports only Windows system DLLs (Node-API and libuv are
# delay-loaded from the host executable). Run by scripts/prepack.js when
# DIARKIS_PREBUILD_WIN32=1. Needs scripts/windows/setup.sh and npm ci (node-api-headers).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/windows/env.sh
dir="${BUILD_DIR:-build/win64}"
toolchain=(-DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake)
test -f "$dir/CMakeCache.txt" && toolchain=()  # set once: cmake warns when it is given again
cmake -S . -B "$dir" "${toolchain[@]}" -DCMAKE_BUILD_TYPE=Release \
      -DDIARKIS_WIN_NODE_EXE="$DIARKIS_WIN_NODE" >/dev/null
cmake --build "$dir" -j 2 --target diarkis_node 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
test -f "$dir/diarkis_node.node" || { echo "windows prebuild: the addon failed to build" >&2; exit 1; }
bash scripts/windows/check-imports.sh "$dir/diarkis_node.node" >/dev/null
mkdir -p prebuilds/win32-x64
rm -f prebuilds/win32-x64/*
cp "$dir/diarkis_node.node" prebuilds/win32-x64/node.napi.node
echo "prebuild: prebuilds/win32-x64/node.napi.node ($(( $(stat -c %s prebuilds/win32-x64/node.napi.node) / 1024 )) KiB)"
