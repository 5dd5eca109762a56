#!/usr/bin/env node
// Copies the Release addon into the prebuildify / node-gyp-build layout that the loader
// (src/client/addon-loader.ts) reads: prebuilds/<platform>-<arch>/node.napi[.<libc>].node.
// The binary is already stripped and links libstdc++ statically (CMakeLists.txt).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const { currentTarget, prebuildDir, SOURCE_BUILD_RELATIVE } = require(path.join(root, 'dist', 'src', 'client', 'addon-loader.js'));

const target = currentTarget();
const src = path.join(root, SOURCE_BUILD_RELATIVE);
if (!fs.existsSync(src)) throw new Error(`prebuild: ${src} is missing: run npm run build:native first`);
const dir = prebuildDir(root, target);
fs.mkdirSync(dir, { recursive: true });
for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
const name = `node.napi${target.libc !== '' ? `.${target.libc}` : ''}.node`;
fs.copyFileSync(src, path.join(dir, name));
const kib = Math.round(fs.statSync(path.join(dir, name)).size / 1024);
console.log(`prebuild: ${path.relative(root, path.join(dir, name))} (${kib} KiB)`);
