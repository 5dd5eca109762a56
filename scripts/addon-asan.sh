#!/usr/bin/env bash
# The Node addon (bindings/node: the host-loop driver, the event pump, the wraps) under ASan +
# UBSan, loaded by an uninstrumented node with gcc's libasan preloaded, running the client
# suites that drive it on both drivers, worker termination included. Debug (-O0): it builds
# faster, and these suites are short. Leak checking is off: node itself is not instrumented and
# keeps allocations alive at exit (the native tests' ASan build checks the core for leaks).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/addon-asan
npx cmake-js compile --out "$dir" --CDDIARKIS_BUILD_TESTS=OFF --CDDIARKIS_SANITIZE=ON \
  --CDCMAKE_BUILD_TYPE=Debug -p "$(nproc 2>/dev/null || echo 2)" 2>&1 | grep -E 'error|warning' || true
addon="$(find "$dir" -name diarkis_node.node | head -1)"
test -n "$addon" || { echo "the ASan addon failed to build" >&2; exit 1; }
libasan="$(gcc -print-file-name=libasan.so)"
test -f "$libasan" || { echo "libasan not found (gcc)" >&2; exit 1; }
export LD_PRELOAD="$libasan" DIARKIS_NODE_ADDON="$PWD/$addon"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
npx vitest run test/udp-client-roundtrip.test.ts test/tcp-client-roundtrip.test.ts \
  test/tcp-client-pump.test.ts test/tcp-client-send-batch.test.ts test/tcp-client-response-path.test.ts \
  test/udp-client-response-path.test.ts \
  test/worker-terminate.test.ts \
  test/udp-migration.test.ts
