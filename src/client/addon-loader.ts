/**
 * Finds and loads the native addon, in the prebuildify / node-gyp-build layout:
 *
 *   1. DIARKIS_NODE_ADDON=<file>: that file only (an explicit override never falls back);
 *   2. build/addon/Release/diarkis_node.node: a source build (a checkout, or the install-time
 *      fallback when no prebuild loaded);
 *   3. prebuilds/<platform>-<arch>/*.node whose tags fit: `napi` required, `glibc`/`musl` if
 *      present must match this system (e.g. prebuilds/linux-x64/node.napi.glibc.node,
 *      prebuilds/win32-x64/node.napi.node).
 *
 * A candidate that exists but does not load (corrupt, wrong platform, too new a glibc, or an
 * addon of another version of this package) is recorded and the next one is tried. When none
 * loads, a DiarkisError 'addon-unavailable' says what this system is, every path tried and why
 * it failed, and how to build from source. No network access, ever: this runs at install too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { DiarkisError } from './errors';

/** The Node-API version the addon is built for (package.json "binary.napi_versions"). */
export const ADDON_NAPI_VERSION = 8;
export const ADDON_OVERRIDE_ENV = 'DIARKIS_NODE_ADDON';
export const SOURCE_BUILD_RELATIVE = path.join('build', 'addon', 'Release', 'diarkis_node.node');

export interface AddonTarget {
  platform: string;
  arch: string;
  /** 'glibc' or 'musl' on Linux, '' elsewhere. */
  libc: string;
  /** The running glibc's version ('2.36'), '' when not glibc. */
  libcVersion: string;
  /** process.versions.napi of this runtime. */
  napi: number;
}

export interface AddonAttempt {
  path: string;
  /** Why it was not used: 'not found', a skipped tag, or the load error's message. */
  reason: string;
}

/** err.details of a DiarkisError 'addon-unavailable'. */
export interface AddonUnavailableDetails extends AddonTarget {
  tried: AddonAttempt[];
  buildFromSource: string;
}

export interface LoadAddonOptions {
  /** The package root (holds package.json, prebuilds/, build/). */
  root: string;
  /** Defaults to this process (currentTarget()). */
  target?: AddonTarget;
  /** Defaults to process.env (for the override variable). */
  env?: NodeJS.ProcessEnv;
  /** A reason when the loaded module is not this package's addon, else undefined. */
  check?: (mod: unknown) => string | undefined;
}

export interface LoadedAddon<T> {
  addon: T;
  path: string;
  /** Candidates tried before this one, and why they were passed over. */
  skipped: AddonAttempt[];
}

export const BUILD_FROM_SOURCE =
  'To build it from source: install CMake >= 3.16, a C++17 compiler and OpenSSL 3 with its static ' +
  'libcrypto.a (Debian/Ubuntu: apt-get install cmake g++ make libssl-dev), then in your project ' +
  '`npm install --save-dev cmake-js@^8 node-addon-api@^8 && npm rebuild diarkis-node`; ' +
  'in a checkout of diarkis-node: `npm run build:native`. ' +
  `${ADDON_OVERRIDE_ENV}=<file.node> loads a binary from elsewhere.`;

let cachedTarget: AddonTarget | undefined;

/** This process's platform, arch, libc and Node-API version. */
export function currentTarget(): AddonTarget {
  if (cachedTarget) return cachedTarget;
  let libc = '';
  let libcVersion = '';
  if (process.platform === 'linux') {
    // The report header names the running glibc; no glibc there means musl (Alpine).
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    libcVersion = header?.glibcVersionRuntime ?? '';
    libc = libcVersion !== '' ? 'glibc' : 'musl';
  }
  cachedTarget = {
    platform: process.platform,
    arch: process.arch,
    libc,
    libcVersion,
    napi: Number(process.versions.napi ?? 0),
  };
  return cachedTarget;
}

/** 'linux-x64 (glibc 2.36), Node-API 9' */
export function describeTarget(t: AddonTarget): string {
  const libc = t.libc === '' ? '' : ` (${t.libc}${t.libcVersion !== '' ? ` ${t.libcVersion}` : ''})`;
  return `${t.platform}-${t.arch}${libc}, Node-API ${t.napi}`;
}

/** The directory of prebuilds for a target: prebuilds/<platform>-<arch>. */
export function prebuildDir(root: string, t: Pick<AddonTarget, 'platform' | 'arch'>): string {
  return path.join(root, 'prebuilds', `${t.platform}-${t.arch}`);
}

/** Why a prebuild file name's tags (node-gyp-build's: name.tag.tag.node) do not fit, or undefined. */
export function prebuildMismatch(file: string, t: AddonTarget): string | undefined {
  const tags = file.split('.').slice(1, -1);
  if (!tags.includes('napi')) return 'skipped: not a Node-API build (no napi tag)';
  const libc = tags.find((x) => x === 'glibc' || x === 'musl');
  if (libc !== undefined && libc !== t.libc) return `skipped: built for ${libc}, this system has ${t.libc || 'no libc tag'}`;
  return undefined;
}

/** The prebuilds that fit the target, libc-tagged ones first; misfits are recorded in `tried`. */
function prebuildCandidates(root: string, t: AddonTarget, tried: AddonAttempt[]): string[] {
  const dir = prebuildDir(root, t);
  let files: string[];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.node')).sort();
  } catch {
    tried.push({ path: dir + path.sep, reason: `not found (no prebuild for ${t.platform}-${t.arch} in this package)` });
    return [];
  }
  if (files.length === 0) tried.push({ path: dir + path.sep, reason: 'no .node file' });
  const fit: string[] = [];
  for (const f of files) {
    const why = prebuildMismatch(f, t);
    if (why === undefined) fit.push(f);
    else tried.push({ path: path.join(dir, f), reason: why });
  }
  const specific = (f: string): number => (/\.(glibc|musl)\./.test(f) ? 0 : 1);
  return fit.sort((a, b) => specific(a) - specific(b)).map((f) => path.join(dir, f));
}

function tryLoad(file: string, check: LoadAddonOptions['check']): { mod?: unknown; reason?: string } {
  if (!fs.existsSync(file)) return { reason: 'not found' };
  let mod: unknown;
  try {
    mod = createRequire(file)(file);
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? `${e.code}: ` : '';
    return { reason: `${code}${String(e.message ?? err).trim()}` };
  }
  const mismatch = check?.(mod);
  return mismatch === undefined ? { mod } : { reason: mismatch };
}

/** Loads the first candidate that works, or throws DiarkisError 'addon-unavailable'. */
export function loadAddon<T>(opts: LoadAddonOptions): LoadedAddon<T> {
  const target = opts.target ?? currentTarget();
  const env = opts.env ?? process.env;
  const tried: AddonAttempt[] = [];
  const override = env[ADDON_OVERRIDE_ENV];
  const attempt = (file: string): LoadedAddon<T> | undefined => {
    const r = tryLoad(file, opts.check);
    if (r.reason === undefined) return { addon: r.mod as T, path: file, skipped: tried };
    tried.push({ path: file, reason: r.reason });
    return undefined;
  };
  if (override !== undefined && override !== '') {
    const r = attempt(path.resolve(override));
    if (r) return r;
  } else if (target.napi < ADDON_NAPI_VERSION) {
    tried.push({ path: '(all)', reason: `this runtime has Node-API ${target.napi}; the addon needs ${ADDON_NAPI_VERSION}` });
  } else {
    const r = attempt(path.join(opts.root, SOURCE_BUILD_RELATIVE));
    if (r) return r;
    for (const file of prebuildCandidates(opts.root, target, tried)) {
      const p = attempt(file);
      if (p) return p;
    }
  }
  return throwUnavailable(tried, target, override !== undefined && override !== '' ? ` (from ${ADDON_OVERRIDE_ENV})` : '');
}

/** Throws DiarkisError 'addon-unavailable' listing what was tried and how to build. */
export function throwUnavailable(tried: AddonAttempt[], target: AddonTarget = currentTarget(), source = ''): never {
  const details: AddonUnavailableDetails = { ...target, tried, buildFromSource: BUILD_FROM_SOURCE };
  const lines = tried.map((a) => `  ${a.path}: ${a.reason}`);
  throw new DiarkisError(
    'addon-unavailable',
    `diarkis-node: no native addon loads on ${describeTarget(target)}${source}. Tried:\n${lines.join('\n')}\n${BUILD_FROM_SOURCE}`,
    details,
  );
}
