#!/usr/bin/env bash
# Runs the native unit tests (plain build) under valgrind's memcheck; any leak or
# memory error fails. valgrind runs one thread at a time, so the flood stress test (a sender
# thread spinning against 40 clients) cannot make progress in bounded time there; it runs in
# the plain and the ASan + UBSan builds instead. VALGRIND_FILTER overrides the filter.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BUILD_DIR:-build/native}"
[ -x "$dir/diarkis_native_tests" ] || BUILD_DIR="$dir" bash scripts/native-tests.sh plain >/dev/null
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=1 "$dir/diarkis_native_tests" --gtest_brief=1 --gtest_filter="${VALGRIND_FILTER:-*-TcpClientTest.DestroyingManyClientsWhileTrafficFlows}"
