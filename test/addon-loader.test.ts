/**
 * The addon loader's choice and its diagnostics: a source build, a prebuild, a missing, a
 * corrupt and a wrong-platform binary, libc tags, the override variable, a foreign module.
 * Fake package roots live in a temp directory; the real addon is copied into them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  currentTarget, loadAddon, SOURCE_BUILD_RELATIVE, throwUnavailable, type AddonTarget, type LoadAddonOptions,
} from '../src/client/addon-loader';
import { DiarkisError } from '../src/client/errors';
import { packageRoot } from '../src/native';

const realAddon = path.join(packageRoot(), SOURCE_BUILD_RELATIVE);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diarkis-loader-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const linux: AddonTarget = { platform: 'linux', arch: 'x64', libc: 'glibc', libcVersion: '2.36', napi: 9 };
let roots = 0;

/** A fake package root holding the given files (relative path -> contents or a file to copy). */
function fakeRoot(files: Record<string, Buffer | { copy: string }>): string {
  const root = path.join(tmp, `root-${roots++}`);
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (Buffer.isBuffer(content)) fs.writeFileSync(file, content);
    else fs.copyFileSync(content.copy, file);
  }
  fs.mkdirSync(root, { recursive: true });
  return root;
}

function loadError(opts: LoadAddonOptions): DiarkisError {
  try {
    loadAddon(opts);
  } catch (err) {
    if (err instanceof DiarkisError) return err;
    throw err;
  }
  throw new Error('loadAddon did not throw');
}

function details(err: DiarkisError) {
  if (err.code !== 'addon-unavailable') throw new Error(`unexpected code ${err.code}`);
  return err.details;
}

const prebuilt = path.join('prebuilds', 'linux-x64', 'node.napi.glibc.node');
const isAddon = (e: unknown) => (typeof (e as { create?: unknown }).create === 'function' ? undefined : 'not the addon');

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('addon loader (linux-x64)', () => {
  it('describes this process: platform, arch, glibc and its version, Node-API', () => {
    const t = currentTarget();
    expect(t).toMatchObject({ platform: 'linux', arch: 'x64', libc: 'glibc' });
    expect(t.libcVersion).toMatch(/^2\.\d+$/);
    expect(t.napi).toBeGreaterThanOrEqual(8);
  });

  it('prefers a source build, then the prebuild for platform, arch and libc', () => {
    const both = fakeRoot({ [SOURCE_BUILD_RELATIVE]: { copy: realAddon }, [prebuilt]: { copy: realAddon } });
    expect(loadAddon({ root: both, target: linux, env: {}, check: isAddon }).path).toBe(path.join(both, SOURCE_BUILD_RELATIVE));
    const onlyPrebuild = fakeRoot({ [prebuilt]: { copy: realAddon } });
    const r = loadAddon({ root: onlyPrebuild, target: linux, env: {}, check: isAddon });
    expect(r.path).toBe(path.join(onlyPrebuild, prebuilt));
    expect(r.skipped).toEqual([{ path: path.join(onlyPrebuild, SOURCE_BUILD_RELATIVE), reason: 'not found' }]);
  });

  it('a missing binary: the error names the system, every path tried and how to build', () => {
    const root = fakeRoot({});
    const err = loadError({ root, target: linux, env: {} });
    expect(err.code).toBe('addon-unavailable');
    const d = details(err);
    expect(d).toMatchObject({ platform: 'linux', arch: 'x64', libc: 'glibc', libcVersion: '2.36', napi: 9 });
    expect(d.tried.map((a) => a.path)).toEqual([
      path.join(root, SOURCE_BUILD_RELATIVE),
      path.join(root, 'prebuilds', 'linux-x64') + path.sep,
    ]);
    expect(err.message).toContain('linux-x64 (glibc 2.36), Node-API 9');
    expect(err.message).toContain('no prebuild for linux-x64');
    expect(err.message).toContain('npm rebuild diarkis-node');
    expect(err.message).toContain('npm run build:native');
    expect(err.message).toContain('DIARKIS_NODE_ADDON');
  });

  it('a corrupt binary is reported with the dlopen error, and a good one after it still loads', () => {
    const garbage = Buffer.from('this is not an ELF file at all, just text\n'.repeat(10));
    const root = fakeRoot({ [prebuilt]: garbage });
    const err = loadError({ root, target: linux, env: {} });
    const corrupt = details(err).tried.find((a) => a.path === path.join(root, prebuilt));
    expect(corrupt?.reason).toMatch(/ERR_DLOPEN_FAILED: .*(invalid ELF header|too short)/);
    expect(err.message).toContain(corrupt?.reason ?? '?');

    const fallback = fakeRoot({ [SOURCE_BUILD_RELATIVE]: garbage, [prebuilt]: { copy: realAddon } });
    const r = loadAddon({ root: fallback, target: linux, env: {}, check: isAddon });
    expect(r.path).toBe(path.join(fallback, prebuilt));
    expect(r.skipped[0]?.reason).toMatch(/ERR_DLOPEN_FAILED/);
  });

  it('a binary for another machine (aarch64 ELF) fails with its reason', () => {
    const elf = fs.readFileSync(realAddon);
    elf.writeUInt16LE(183, 18);  // e_machine = EM_AARCH64
    const root = fakeRoot({ [prebuilt]: elf });
    const reason = details(loadError({ root, target: linux, env: {} })).tried.at(-1)?.reason;
    expect(reason).toMatch(/ERR_DLOPEN_FAILED: .*(wrong ELF class|machine|cannot open shared object)/i);
  });

  it('another platform or libc: no matching prebuild, with the tags that did not fit', () => {
    const root = fakeRoot({ [prebuilt]: { copy: realAddon }, 'prebuilds/linux-x64/node.napi.musl.node': Buffer.alloc(8) });
    const mac = details(loadError({ root, target: { platform: 'darwin', arch: 'arm64', libc: '', libcVersion: '', napi: 9 }, env: {} }));
    expect(mac.tried.at(-1)).toEqual({
      path: path.join(root, 'prebuilds', 'darwin-arm64') + path.sep,
      reason: 'not found (no prebuild for darwin-arm64 in this package)',
    });
    const musl = details(loadError({ root, target: { ...linux, libc: 'musl', libcVersion: '' }, env: {} }));
    expect(musl.tried.map((a) => a.reason)).toContain('skipped: built for glibc, this system has musl');
    expect(musl.tried.some((a) => a.path.endsWith('node.napi.musl.node') && /ERR_DLOPEN_FAILED/.test(a.reason))).toBe(true);
  });

  it('a runtime below Node-API 8 tries nothing and says why', () => {
    const root = fakeRoot({ [prebuilt]: { copy: realAddon } });
    const err = loadError({ root, target: { ...linux, napi: 7 }, env: {} });
    expect(details(err).tried).toEqual([{ path: '(all)', reason: 'this runtime has Node-API 7; the addon needs 8' }]);
  });

  it('DIARKIS_NODE_ADDON loads that file only, and never falls back', () => {
    const root = fakeRoot({ [prebuilt]: { copy: realAddon } });
    const chosen = fakeRoot({ 'custom/addon.node': { copy: realAddon } });
    const file = path.join(chosen, 'custom', 'addon.node');
    expect(loadAddon({ root, target: linux, env: { DIARKIS_NODE_ADDON: file }, check: isAddon }).path).toBe(file);
    const missing = path.join(chosen, 'nope.node');
    const err = loadError({ root, target: linux, env: { DIARKIS_NODE_ADDON: missing } });
    expect(details(err).tried).toEqual([{ path: missing, reason: 'not found' }]);
    expect(err.message).toContain('(from DIARKIS_NODE_ADDON)');
  });

  it('no package root (a bundle): the same error, naming where it looked', () => {
    let caught: unknown;
    try {
      throwUnavailable([{ path: '/bundle/dist', reason: 'cannot find the diarkis-node package root (bundled? keep diarkis-node external)' }], linux);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DiarkisError);
    const err = caught as DiarkisError;
    expect(details(err).tried[0]?.path).toBe('/bundle/dist');
    expect(err.message).toMatch(/linux-x64 \(glibc 2\.36\).*\n  \/bundle\/dist: cannot find .*keep diarkis-node external\)\n/);
  });

  it('a module that is not this addon is rejected by the check', () => {
    const root = fakeRoot({ 'other.js': Buffer.from('module.exports = { eventTypes: ["connect"] };\n') });
    const err = loadError({ root, target: linux, env: { DIARKIS_NODE_ADDON: path.join(root, 'other.js') }, check: isAddon });
    expect(details(err).tried[0]?.reason).toBe('not the addon');
  });
});
