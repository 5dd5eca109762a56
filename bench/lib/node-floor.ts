/**
 * The Node floor of bench/tcp-throughput (bench/node-floor/node_floor.c): a bench-only addon that
 * writes a prepared request packet, waits on Node's own loop with a uv_poll_t, reads, counts the
 * answers by their headers and makes ONE JS callback per read. No protocol work, no crypto: what
 * any addon pays per round trip on the loop. Built here with the system C compiler against the
 * running Node's own headers (uv.h, node_api.h), like the C floor; run in its own process.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EchoSample } from './tcp-echo-child';

const root = path.resolve(__dirname, '..', '..', '..');

/** Compiles the floor addon (once per run) and returns its path. */
export function buildNodeFloor(): string {
  const src = path.join(root, 'bench', 'node-floor', 'node_floor.c');
  const out = path.join(root, 'build', 'bench', 'node_floor.node');
  const include = path.join(process.execPath, '..', '..', 'include', 'node');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Node-API and libuv symbols resolve against the node binary at load time; OpenSSL (the crypto
  // floor) is the system's libcrypto.a, linked in with its symbols kept local (as the addon does),
  // so that neither binds to the OpenSSL inside node.
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', `-I${include}`, '-o', out, src,
    '-Wl,-Bsymbolic', '-Wl,--exclude-libs,ALL', '-l:libcrypto.a', '-lpthread'], { stdio: 'inherit' });
  return out;
}

/** The floors this addon measures (lib/node-floor-child.ts): plain, + crypto, + crypto + a promise per request. */
export const NODE_FLOORS = ['node-floor', 'crypto-floor', 'promise-floor'] as const;
export type NodeFloorMode = (typeof NODE_FLOORS)[number];

export function runNodeFloor(addon: string, entryUrl: string, depth: number, messages: number, uid: string,
  wrap: string[] = [], mode: NodeFloorMode = 'node-floor', warmup?: number): Promise<EchoSample> {
  // warmup: as lib/tcp-echo-child.ts's (undefined: min(2000, messages) in one call).
  const args = [path.join(__dirname, 'node-floor-child.js'), addon, entryUrl, String(depth), String(messages), uid, mode,
    ...(warmup !== undefined ? [String(warmup)] : [])];
  return new Promise((resolve, reject) => {
    const p = spawn(wrap[0] ?? process.execPath, wrap.length > 0 ? [...wrap.slice(1), process.execPath, ...args] : args,
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as EchoSample) : reject(new Error(`${mode}: exit ${code}`))));
  });
}
