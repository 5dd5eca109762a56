#!/usr/bin/env node
// npm pack / publish: build what is missing (the TypeScript, the addon; both incremental)
// and put the addon under prebuilds/ so the tarball installs with no compiler. The
// win32-x64 prebuild is cross-built too when the Windows toolchain is here
// (scripts/windows/setup.sh); DIARKIS_REQUIRE_WIN32=1 makes its absence an error
// (publishing, the Windows CI stage).
'use strict';
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });
run('npm run build:native');
run('npm run build:ts');
run('node scripts/prebuild.js');

const hasWindowsToolchain = () => {
  try {
    for (const tool of ['x86_64-w64-mingw32-g++-posix', 'gendef']) execSync(`command -v ${tool}`, { stdio: 'ignore', shell: '/bin/sh' });
    const node = execSync('. scripts/windows/env.sh && printf %s "$DIARKIS_WIN_NODE"', { cwd: root, shell: '/bin/bash' });
    return fs.existsSync(node.toString());
  } catch {
    return false;
  }
};
if (process.platform === 'linux' && hasWindowsToolchain()) {
  run('bash scripts/windows/prebuild.sh');
} else if (process.env.DIARKIS_REQUIRE_WIN32 === '1') {
  throw new Error('prepack: DIARKIS_REQUIRE_WIN32=1 but the Windows toolchain is missing: run bash scripts/windows/setup.sh');
} else {
  console.error('prepack: no win32-x64 prebuild (the Windows toolchain is not installed: bash scripts/windows/setup.sh)');
}
