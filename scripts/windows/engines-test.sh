#!/usr/bin/env bash
# Issue 15 on Windows: diarkis.dll (the C ABI of bindings/c, cross-built with
# mingw-w64) exports only dk_* and imports only Windows system DLLs; the C11 smoke
# test of test/engines, built with mingw against it, runs under wine against the
# reference cluster started on Linux by the CLI (test/engines/run.mjs), on TCP and
# UDP, manual and automatic migration, and the room scenario (two users, a room
# migration) on TCP and UDP.
# Needs scripts/windows/setup.sh, npm ci (dist/ for the CLI). Usage: bash scripts/windows/engines-test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/windows/env.sh
dir="${BUILD_DIR:-build/win64}"
test -f dist/src/cli/main.js || { echo "dist/ missing: run npm ci or npm run build:ts first" >&2; exit 1; }
toolchain=(-DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake)
test -f "$dir/CMakeCache.txt" && toolchain=()  # set once: cmake warns when it is given again
cmake -S . -B "$dir" "${toolchain[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir" -j 2 --target diarkis engines_smoke_c 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
dll="$dir/diarkis.dll"
smoke="$dir/engines_smoke_c.exe"
test -f "$dll" && test -f "$smoke" || { echo "windows engines: diarkis.dll or the smoke test failed to build" >&2; exit 1; }

bash scripts/windows/check-imports.sh "$dll" "$smoke"
# The export table: the names after objdump's "[Ordinal/Name Pointer] Table" line.
exports="$(x86_64-w64-mingw32-objdump -p "$dll" | awk '/\[Ordinal\/Name Pointer\] Table/ {on=1; next} on && /^\t\[/ {print $NF} on && /^$/ {on=0}')"
test -n "$exports" || { echo "windows engines: diarkis.dll exports nothing" >&2; exit 1; }
extra="$(grep -v '^dk_' <<<"$exports" || true)"
if [ -n "$extra" ]; then echo "diarkis.dll exports more than dk_*:" >&2; echo "$extra" >&2; exit 1; fi
echo "diarkis.dll exports $(wc -l <<<"$exports") dk_* functions and nothing else"

# The smoke test prints AWAIT-OFFLINE/PASS lines to a pipe: a mingw C program's
# stdio works there under wine (Node's does not, see test.sh).
w=(-- "$DIARKIS_WINE" "$smoke")
node test/engines/run.mjs c tcp manual "${w[@]}" ';;' c udp manual "${w[@]}" ';;' \
     c tcp auto "${w[@]}" ';;' c udp auto "${w[@]}" ';;' \
     c-rooms tcp auto "${w[@]}" rooms ';;' c-rooms udp manual "${w[@]}" rooms
