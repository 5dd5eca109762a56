#!/usr/bin/env bash
# Builds and runs the native (C++) unit tests with ctest.
#   scripts/native-tests.sh            plain build (warnings on)
#   scripts/native-tests.sh asan       ASan + UBSan build
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-plain}"
jobs="$(nproc 2>/dev/null || echo 2)"
case "$mode" in
  plain) dir="${BUILD_DIR:-build/native}"; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)  dir="${BUILD_DIR:-build/asan}";   flags=(-DCMAKE_BUILD_TYPE=Debug -DDIARKIS_SANITIZE=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang) ;;
  *) echo "usage: $0 [plain|asan]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" -DDIARKIS_BUILD_TESTS=ON >/dev/null
cmake --build "$dir" -j "$jobs" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
test -x "$dir/diarkis_native_tests" || { echo "native tests failed to build" >&2; exit 1; }
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300
