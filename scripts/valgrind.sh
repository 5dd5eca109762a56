#!/usr/bin/env bash
# Runs the native unit tests (plain build) under valgrind's memcheck; any leak or
# memory error fails. Tests that need wall-clock heavy loops can opt out with the
# gtest filter in VALGRIND_FILTER.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BUILD_DIR:-build/native}"
[ -x "$dir/diarkis_native_tests" ] || BUILD_DIR="$dir" bash scripts/native-tests.sh plain >/dev/null
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=1 "$dir/diarkis_native_tests" --gtest_brief=1 --gtest_filter="${VALGRIND_FILTER:-*}"
