#!/usr/bin/env bash
# One request in flight through the C ABI (dk_poll, dk_rsend; default options, so the UDP client
# has the network thread's pack and ACK delays): echoes/s and process CPU per echo, on UDP and TCP,
# against the CLI's cluster, this build and optionally another build's engines_poll_cost
# (ab.sh says how to build one) interleaved in every round. Wall-clock figures: run it under
# the bench lock and say the load.
#   bash bench/engines/lone.sh [base engines_poll_cost] [N=3000] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${1:-}"; n="${2:-3000}"; rounds="${3:-3}"
dir=build/engines
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDIARKIS_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j 2 --target engines_poll_cost >/dev/null
runs=()
for r in $(seq "$rounds"); do
  for t in udp tcp; do
    runs+=("this-$r" "$t" manual -- "$dir/engines_poll_cost" lone "$n" ';;')
    [ -n "$base" ] && runs+=("base-$r" "$t" manual -- "$base" lone "$n" ';;')
  done
done
node test/engines/run.mjs "${runs[@]}" | grep -E 'LONE|FAIL'
