#!/usr/bin/env node
// The package's install step. A checkout does nothing here (`prepare` builds everything). An
// installed package does nothing when an addon loads (the prebuild for this platform), and
// otherwise builds the addon from source with cmake-js, saying first what that needs.
// TypeScript is never needed here; nothing is downloaded.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
if (fs.existsSync(path.join(root, 'tsconfig.json'))) process.exit(0);  // a checkout

const loader = require(path.join(root, 'dist', 'src', 'client', 'addon-loader.js'));
const say = (msg) => console.error(`diarkis-node: ${msg}`);

function loads() {
  try {
    loader.loadAddon({ root, check: (e) => (typeof (e && e.create) === 'function' ? undefined : 'not the addon') });
    return undefined;
  } catch (err) {
    return err;
  }
}

const first = loads();
if (first === undefined) process.exit(0);
if (process.env[loader.ADDON_OVERRIDE_ENV]) {
  say(first.message);
  process.exit(1);
}
const tried = first.message.split('\n').slice(1, -1).join('\n');
say(`no prebuilt addon loads on ${loader.describeTarget(loader.currentTarget())}; building it from source.\n${tried}`);

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  require.resolve('node-addon-api', { paths: [root] });
} catch {
  say('building from source needs cmake-js and node-addon-api, which are not installed.');
  say(loader.BUILD_FROM_SOURCE);
  process.exit(1);
}
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', path.join('build', 'addon'), '--CDDIARKIS_BUILD_TESTS=OFF'], {
  cwd: root,
  stdio: 'inherit',
});
const after = r.status === 0 ? loads() : new Error(`cmake-js exited with ${r.status ?? r.signal}`);
if (after !== undefined) {
  say(`the source build failed: ${after.message}`);
  say(loader.BUILD_FROM_SOURCE);
  process.exit(1);
}
say('built the addon from source.');
