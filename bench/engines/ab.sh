#!/usr/bin/env bash
# A/B of the echo path against another build of engines_poll_cost (an older
# commit): instructions per echo round trip (whole client process, callgrind,
# marginal as in run.sh), for the C++ class with network-thread callbacks (cpp)
# and the C ABI's dk_poll (capi), both trees interleaved in every round.
#   git archive <commit> | tar -x -C /tmp/base
#   cmake -S /tmp/base -B /tmp/base/build/engines -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIARKIS_BUILD_TESTS=OFF
#   cmake --build /tmp/base/build/engines -j 2 --target engines_poll_cost
#   bash bench/engines/ab.sh /tmp/base/build/engines/engines_poll_cost [N=2000] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${1:?the engines_poll_cost binary of the other build}"; n="${2:-2000}"; rounds="${3:-3}"
dir=build/engines
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIARKIS_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j 2 --target engines_poll_cost >/dev/null
out="$(mktemp -d)"
runs=()
for r in $(seq "$rounds"); do
  for tree in base this; do
    bin="$dir/engines_poll_cost"; [ "$tree" = base ] && bin="$base"
    for mode in cpp capi; do
      for k in 1 2; do
        runs+=("$tree-$mode-$r-$k" tcp manual -- valgrind --tool=callgrind --callgrind-out-file="$out/$tree.$mode.$r.$k.out"
               "$bin" "$mode" "$(( n * k ))" ';;')
      done
    done
  done
done
node test/engines/run.mjs "${runs[@]}" >/dev/null
echo "echo round trips (64 B, TCP, encrypted): instructions of the client process per round trip, marginal over $n"
ir() { grep -m1 '^summary:' "$1" | awk '{print $2}'; }
for tree in base this; do
  for mode in cpp capi; do
    per=()
    for r in $(seq "$rounds"); do
      per+=("$(( ($(ir "$out/$tree.$mode.$r.2.out") - $(ir "$out/$tree.$mode.$r.1.out")) / n ))")
    done
    sorted="$(printf '%s\n' "${per[@]}" | sort -n | tr '\n' ' ')"
    echo "$tree $mode: per round ${per[*]} (sorted: $sorted)"
  done
done
rm -rf "$out"
