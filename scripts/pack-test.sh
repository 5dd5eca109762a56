#!/usr/bin/env bash
# The package as its users get it: `npm pack` (prepack builds what is missing), then install
# the tarball into fresh temporary projects with no compiler and no cmake on PATH, and use it
# from CommonJS, ESM and strict TypeScript (module nodenext; TS_VERSIONS) with TCP and UDP
# requests against the embedded cluster; the CLI's --version. With `fallback` as $1 it also
# installs a tarball without prebuilds: first without cmake-js (the install must fail and say
# what to install), then with cmake-js and node-addon-api (it must build from source).
# Registry: npm's own (its cache first); nothing else is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
TS_VERSIONS=${TS_VERSIONS:-"5.0.4 5.9.3 7.0.2"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/diarkis-pack.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export npm_config_cache="${npm_config_cache:-$(npm config get cache)}"
NPM_FLAGS=(--no-audit --no-fund --prefer-offline --loglevel=error)
fail() { echo "pack-test: FAIL: $*" >&2; exit 1; }
step() { echo "--- pack-test: $* ($(date +%T))"; }

step "npm pack"
npm pack --pack-destination "$WORK" --loglevel=error >"$WORK/pack.out"
TGZ="$WORK/$(tail -n1 "$WORK/pack.out")"
[ -f "$TGZ" ] || fail "npm pack produced no tarball"
tar tzf "$TGZ" >"$WORK/files"
for f in package/prebuilds/linux-x64/node.napi.glibc.node package/dist/esm/index.mjs package/dist/esm/index.d.mts \
         package/dist/src/index.js package/dist/src/index.d.ts package/scripts/install.js package/CMakeLists.txt; do
  grep -qx "$f" "$WORK/files" || fail "$f is not in the tarball"
done
if grep -E '^package/(build|test|bench|src)/|tsconfig|\.tgz$|/bin/|\.ci/' "$WORK/files"; then fail "the tarball ships files it should not"; fi
echo "tarball: $(basename "$TGZ"), $(wc -l <"$WORK/files") files, $(du -k "$TGZ" | cut -f1) KiB"

step "the prebuild: stripped, libstdc++ linked in, glibc floor"
mkdir "$WORK/unpacked" && tar xzf "$TGZ" -C "$WORK/unpacked"
NODEFILE="$WORK/unpacked/package/prebuilds/linux-x64/node.napi.glibc.node"
objdump -p "$NODEFILE" | grep -q 'NEEDED.*libstdc++' && fail "the prebuild needs libstdc++.so"
objdump -T "$NODEFILE" | grep -q GLIBCXX_ && fail "the prebuild needs GLIBCXX symbols"
objdump -h "$NODEFILE" | grep -q '\.symtab' && fail "the prebuild is not stripped"
FLOOR=$(objdump -T "$NODEFILE" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)
[ "$FLOOR" = "GLIBC_2.34" ] || fail "glibc floor is $FLOOR, README and docs say GLIBC_2.34"
echo "prebuild: $(du -k "$NODEFILE" | cut -f1) KiB, needs $FLOOR"
node -e '
  const fs = require("fs"), path = require("path");
  const dir = process.argv[1]; let maps = 0;
  const walk = (d) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith(".map")) { maps++; const m = JSON.parse(fs.readFileSync(p, "utf8"));
      if (!Array.isArray(m.sourcesContent) || m.sourcesContent.length !== m.sources.length || m.sourcesContent.some((s) => typeof s !== "string"))
        throw new Error(p + ": the source map does not carry its sources"); } } };
  walk(dir); if (maps === 0) throw new Error("no source maps"); console.log("source maps: " + maps + ", each with its sources");
' "$WORK/unpacked/package/dist"

# A PATH with node, npm and sh only: no cc, c++, g++, clang, make or cmake.
BIN="$WORK/bin" && mkdir "$BIN"
for tool in node npm npx sh; do ln -s "$(command -v $tool)" "$BIN/$tool"; done
for tool in cc c++ gcc g++ clang make cmake; do
  PATH="$BIN" command -v "$tool" >/dev/null && fail "$tool is on the restricted PATH"
done
BARE=(env -i HOME="$WORK/home" PATH="$BIN" npm_config_cache="$npm_config_cache" npm_config_update_notifier=false)
bare() { "${BARE[@]}" "$@"; }
newproject() { mkdir -p "$1" && (cd "$1" && bare npm init -y >/dev/null); }

step "install the tarball with no compiler on PATH"
APP="$WORK/app"
newproject "$APP"
(cd "$APP" && bare npm install "${NPM_FLAGS[@]}" "$TGZ")
[ -e "$APP/node_modules/diarkis-node/build" ] && fail "the install built something although a prebuild loads"
[ -e "$APP/node_modules/cmake-js" ] && fail "cmake-js was installed: it is not a runtime dependency"
cp "$REPO"/test/pack/consumer.* "$REPO/test/pack/tsconfig.json" "$APP/"

step "CommonJS"
(cd "$APP" && timeout 60 "${BARE[@]}" node consumer.cjs)
step "ESM"
(cd "$APP" && timeout 60 "${BARE[@]}" node consumer.mjs)
step "CLI"
VERSION=$(cd "$APP" && bare npx diarkis-node --version)
[ "$VERSION" = "$(node -p 'require("./package.json").version')" ] || fail "diarkis-node --version printed '$VERSION'"

step "strict TypeScript (nodenext): ${TS_VERSIONS}"
ts_deps=("@types/node@20")
for v in $TS_VERSIONS; do ts_deps+=("ts-${v//./-}@npm:typescript@$v"); done
(cd "$APP" && bare npm install "${NPM_FLAGS[@]}" --save-dev "${ts_deps[@]}")
for v in $TS_VERSIONS; do
  rm -rf "$APP/out"
  echo "tsc $v"
  (cd "$APP" && bare node "node_modules/ts-${v//./-}/bin/tsc" -p tsconfig.json) || fail "TypeScript $v does not compile the consumer"
done
(cd "$APP" && timeout 60 "${BARE[@]}" node out/consumer.mjs && timeout 30 "${BARE[@]}" node out/consumer.cjs)

if [ "${1:-}" = "fallback" ]; then
  step "source fallback: a tarball without prebuilds, no cmake-js installed"
  rm -rf "$WORK/unpacked/package/prebuilds"
  SRC_TGZ="$WORK/no-prebuild.tgz"
  tar czf "$SRC_TGZ" -C "$WORK/unpacked" package
  NOJS="$WORK/app-nojs"
  newproject "$NOJS"
  if (cd "$NOJS" && bare npm install "${NPM_FLAGS[@]}" "$SRC_TGZ" >"$WORK/nojs.log" 2>&1); then fail "install without a prebuild and without cmake-js succeeded"; fi
  grep -q 'npm install --save-dev cmake-js@^8 node-addon-api@^8' "$WORK/nojs.log" || { cat "$WORK/nojs.log"; fail "the failed install does not say what to install"; }
  echo "without cmake-js: install refused, naming cmake-js and node-addon-api"

  step "source fallback: with cmake-js and node-addon-api (compiler on PATH)"
  SRC="$WORK/app-src"
  newproject "$SRC"
  (cd "$SRC" && env -i HOME="$WORK/home" PATH="$PATH" npm_config_cache="$npm_config_cache" CMAKE_BUILD_PARALLEL_LEVEL=2 \
     npm install "${NPM_FLAGS[@]}" --foreground-scripts --save-dev cmake-js@^8 node-addon-api@^8 "$SRC_TGZ" >"$WORK/src.log" 2>&1) \
     || { tail -n 40 "$WORK/src.log"; fail "the source build failed"; }
  grep -q 'built the addon from source' "$WORK/src.log" || fail "the install did not build from source"
  cp "$REPO/test/pack/consumer.cjs" "$SRC/"
  (cd "$SRC" && timeout 60 "${BARE[@]}" node consumer.cjs)
fi
step "passed"
