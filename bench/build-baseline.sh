#!/usr/bin/env bash
# Builds the addon of another commit (default: the merge base with main) for the
# native-baseline row of bench/tcp-throughput:
#   bash bench/build-baseline.sh [commit]  ->  build/baseline/<commit>/diarkis_node.node
# Uses this checkout's node_modules (cmake-js, node-addon-api); nothing is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."
commit="$(git rev-parse --short "${1:-$(git merge-base HEAD main)}")"
out="build/baseline/$commit"
src="$out/src"
rm -rf "$src" && mkdir -p "$src"
git archive "$commit" | tar -x -C "$src"
ln -s "$PWD/node_modules" "$src/node_modules"
(cd "$src" && npx cmake-js compile --out build/addon --CDDIARKIS_BUILD_TESTS=OFF >/dev/null)
cp "$src/build/addon/Release/diarkis_node.node" "$out/diarkis_node.node"
echo "$out/diarkis_node.node"
