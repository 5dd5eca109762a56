#!/usr/bin/env bash
# The engine faces of the core against the reference cluster started by the CLI
# (test/engines/run.mjs): the C11 smoke test on libdiarkis, the Cocos-style C++
# example (plain and sanitized), and (plain mode) the C# scenario under Mono, the
# C programs under valgrind and the header's layouts on other targets (abi-check.sh).
# The room scenarios (`smoke rooms`, `smoke rooms-fallback`, RoomsSmoke.cs) run with two
# users on one node.
#   scripts/engines-test.sh          plain build (+ Mono, valgrind, abi-check)
#   scripts/engines-test.sh asan     ASan + UBSan build of libdiarkis, the C smoke test, the example
# Needs the TypeScript built (npm ci / npm run build:ts) for the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-plain}"
case "$mode" in
  plain) dir="${BUILD_DIR:-build/engines}"; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)  dir="${BUILD_DIR:-build/engines-asan}"; flags=(-DCMAKE_BUILD_TYPE=Debug -DDIARKIS_SANITIZE=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang) ;;
  *) echo "usage: $0 [plain|asan]" >&2; exit 2 ;;
esac
test -f dist/src/cli/main.js || { echo "dist/ missing: run npm ci or npm run build:ts first" >&2; exit 1; }
cmake -S . -B "$dir" "${flags[@]}" -DDIARKIS_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j 2 --target diarkis engines_smoke_c engines_cocos_example engines_header_check 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true

for t in libdiarkis.so engines_smoke_c engines_cocos_example; do
  test -e "$dir/$t" || { echo "$dir/$t failed to build" >&2; exit 1; }
done

# libdiarkis exports the C ABI and nothing else (no C++ runtime, no OpenSSL).
extra="$(nm -D --defined-only "$dir/libdiarkis.so" | awk '{print $3}' | grep -v '^dk_' || true)"
if [ -n "$extra" ]; then echo "libdiarkis exports more than dk_*:" >&2; echo "$extra" >&2; exit 1; fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
runs=(c tcp manual -- "$dir/engines_smoke_c" ';;' c udp manual -- "$dir/engines_smoke_c" ';;'
      c tcp auto -- "$dir/engines_smoke_c" ';;' c udp auto -- "$dir/engines_smoke_c" ';;'
      c-rooms tcp manual -- "$dir/engines_smoke_c" rooms ';;' c-rooms udp auto -- "$dir/engines_smoke_c" rooms ';;'
      fallback-rooms udp auto -- "$dir/engines_smoke_c" rooms-fallback ';;'
      cocos tcp manual -- "$dir/engines_cocos_example" ';;' cocos udp manual -- "$dir/engines_cocos_example")
if [ "$mode" = plain ]; then
  bash scripts/abi-check.sh
  runs+=(';;' c-rooms tcp auto -- "$dir/engines_smoke_c" rooms ';;' c-rooms udp manual -- "$dir/engines_smoke_c" rooms
         ';;' fallback-rooms tcp auto -- "$dir/engines_smoke_c" rooms-fallback)
  vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
      --errors-for-leak-kinds=definite,indirect)
  runs+=(';;' vg udp manual -- "${vg[@]}" "$dir/engines_smoke_c" ';;' vg-rooms tcp auto -- "${vg[@]}" "$dir/engines_smoke_c" rooms
         ';;' vg-rooms udp manual -- "${vg[@]}" "$dir/engines_smoke_c" rooms)
  bash scripts/mono-setup.sh
  out="$dir/mono"
  mkdir -p "$out"
  mcs -nologo -warnaserror -target:exe -out:"$out/smoke.exe" bindings/unity/Plugins/Diarkis/*.cs test/engines/*.cs
  cp "$dir/libdiarkis.so" "$out/"
  runs+=(';;' mono tcp manual -- env LD_LIBRARY_PATH="$out" mono "$out/smoke.exe"
         ';;' mono udp auto -- env LD_LIBRARY_PATH="$out" mono "$out/smoke.exe"
         ';;' mono-rooms tcp auto -- env LD_LIBRARY_PATH="$out" mono "$out/smoke.exe" rooms
         ';;' mono-rooms udp manual -- env LD_LIBRARY_PATH="$out" mono "$out/smoke.exe" rooms)
fi
node test/engines/run.mjs "${runs[@]}"
