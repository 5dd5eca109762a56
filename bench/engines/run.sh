#!/usr/bin/env bash
# Instructions per echo round trip (whole client process, callgrind) for the C ABI
# (dk_poll), the C++ class with network-thread callbacks (the anchor) and the C++
# class with a CallbackQueue, each against the CLI's cluster, interleaved rounds.
# Marginal cost: each round runs N and 2N round trips; (I(2N) - I(N)) / N drops
# the fixed start-up (process, OpenSSL, threads, connect).
#   bash bench/engines/run.sh [N=2000] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-2000}"; rounds="${2:-3}"
dir=build/engines
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIARKIS_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j 2 --target engines_poll_cost >/dev/null
out="$(mktemp -d)"
runs=()
for r in $(seq "$rounds"); do
  for mode in cpp capi polled; do
    for k in 1 2; do
      runs+=("$mode-$r-$k" tcp manual -- valgrind --tool=callgrind --callgrind-out-file="$out/$mode.$r.$k.out"
             "$dir/engines_poll_cost" "$mode" "$(( n * k ))" ';;')
    done
  done
done
node test/engines/run.mjs "${runs[@]}" >/dev/null
echo "echo round trips (64 B, TCP, encrypted); instructions of the whole client process per round trip,"
echo "marginal: (I($((2 * n))) - I($n)) / $n, one figure per round"
ir() { grep -m1 '^summary:' "$1" | awk '{print $2}'; }
for mode in cpp capi polled; do
  per=()
  for r in $(seq "$rounds"); do
    per+=("$(( ($(ir "$out/$mode.$r.2.out") - $(ir "$out/$mode.$r.1.out")) / n ))")
  done
  sorted="$(printf '%s\n' "${per[@]}" | sort -n | tr '\n' ' ')"
  echo "$mode: per round ${per[*]} (sorted: $sorted)"
done
rm -rf "$out"
