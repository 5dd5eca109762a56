#!/usr/bin/env bash
# Builds another commit (default: the merge base with main), its addon and its
# TypeScript, for the native-baseline row of bench/tcp-throughput, which runs that
# commit's own TcpClient over that commit's own addon:
#   bash bench/build-baseline.sh [commit]  ->  build/baseline/<commit>/src (pass it as --baseline)
# Uses this checkout's node_modules (cmake-js, node-addon-api); nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
commit="$(git rev-parse --short "${1:-$(git merge-base HEAD main)}")"
out="build/baseline/$commit"
src="$out/src"
rm -rf "$src" && mkdir -p "$src"
git archive "$commit" | tar -x -C "$src"
ln -s "$PWD/node_modules" "$src/node_modules"
(cd "$src" && npx cmake-js compile --out build/addon --CDDIARKIS_BUILD_TESTS=OFF >/dev/null && npx tsc -p tsconfig.json)
echo "$src"
