#!/usr/bin/env node
// npm pack / publish: build what is missing (the TypeScript, the addon; both incremental)
// and put the addon under prebuilds/ so the tarball installs with no compiler.
// DIARKIS_PREBUILD_WIN32=1 cross-builds and ships the win32-x64 prebuild too (needs the
// toolchain of scripts/windows/setup.sh; publishing and the Windows CI stage set it).
// Without it no win32 prebuild is shipped, not even one left from an earlier run, so
// the tarball's contents never depend on what happens to be installed.
'use strict';
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });
run('npm run build:native');
run('npm run build:ts');
run('node scripts/prebuild.js');

if (process.env.DIARKIS_PREBUILD_WIN32 === '1') {
  run('bash scripts/windows/prebuild.sh');
} else {
  fs.rmSync(path.join(root, 'prebuilds', 'win32-x64'), { recursive: true, force: true });
  console.error('prepack: no win32-x64 prebuild (DIARKIS_PREBUILD_WIN32=1 cross-builds it; scripts/windows/setup.sh first)');
}
