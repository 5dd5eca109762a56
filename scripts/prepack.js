#!/usr/bin/env node
// npm pack / publish: build what is missing (the TypeScript, the addon; both incremental)
// and put the addon under prebuilds/ so the tarball installs with no compiler.
'use strict';
const { execSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });
run('npm run build:native');
run('npm run build:ts');
run('node scripts/prebuild.js');
