#!/usr/bin/env bash
# Builds every test/fuzz/fuzz_*.cc with clang's libFuzzer (+ ASan/UBSan) and runs
# each for a bounded time (FUZZ_SECONDS, default 30) from its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-30}"
dir="${BUILD_DIR:-build/fuzz}"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DDIARKIS_FUZZ=ON -DDIARKIS_BUILD_TESTS=OFF \
  -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
status=0
for src in test/fuzz/fuzz_*.cc; do
  name="$(basename "$src" .cc)"
  corpus="$dir/corpus/$name"; mkdir -p "$corpus"
  seeds="test/fuzz/seeds/$name"
  args=("$corpus"); [ -d "$seeds" ] && args+=("$seeds")
  echo "fuzz: $name for ${secs}s"
  if ! "$dir/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
       -artifact_prefix="$dir/" "${args[@]}" >"$dir/$name.log" 2>&1; then
    echo "fuzz: $name FAILED"; tail -n 40 "$dir/$name.log"; status=1
  else
    grep -E '^#[0-9]+.*DONE|Done [0-9]+ runs' "$dir/$name.log" | tail -n 1 || true
  fi
done
exit $status
