/**
 * The Node floors: bench-only addons that drive one connection from a uv_poll_t on Node's own
 * loop and make ONE JS callback per wake-up. TCP (bench/node-floor/node_floor.c, bench/tcp-
 * throughput): writes a prepared request packet, reads, counts the answers by their headers; no
 * protocol work, no crypto. UDP (bench/node-floor/udp_node_floor.c, bench/udp): the C floor's
 * RUDP client (bench/c-floor/udp_floor_rudp.h) on the loop, with prepared packets or with the C
 * floor's OpenSSL work. Built here with the system C compiler against the running Node's own
 * headers (uv.h, node_api.h), like the C floors; each run in its own process.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './c-floor';
import type { EchoTransport } from './echo-run';
import type { EchoSample } from './tcp-echo-child';


/** Compiles a floor addon (once per run) and returns its path. */
export function buildNodeFloor(transport: EchoTransport = 'TCP'): string {
  const root = repoRoot();
  const name = transport === 'UDP' ? 'udp_node_floor' : 'node_floor';
  const src = path.join(root, 'bench', 'node-floor', `${name}.c`);
  const out = path.join(root, 'build', 'bench', `${name}.node`);
  const include = path.join(process.execPath, '..', '..', 'include', 'node');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Node-API and libuv symbols resolve against the node binary at load time; OpenSSL (the crypto
  // floor) is the system's libcrypto.a, linked in with its symbols kept local (as the addon does),
  // so that neither binds to the OpenSSL inside node.
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', `-I${include}`, '-o', out, src,
    '-Wl,-Bsymbolic', '-Wl,--exclude-libs,ALL', '-l:libcrypto.a', '-lpthread'], { stdio: 'inherit' });
  return out;
}

/** The floors this addon measures (lib/node-floor-child.ts): plain, + crypto, + crypto + a promise per request. */
export const NODE_FLOORS = ['node-floor', 'crypto-floor', 'promise-floor'] as const;
export type NodeFloorMode = (typeof NODE_FLOORS)[number];

/** The compiled child: beside this file in dist/, or dist/'s when this runs from the sources (vitest). */
function childScript(): string {
  const here = path.join(__dirname, 'node-floor-child.js');
  return fs.existsSync(here) ? here : path.join(repoRoot(), 'dist', 'bench', 'lib', 'node-floor-child.js');
}

export function runNodeFloor(addon: string, entryUrl: string, depth: number, messages: number, uid: string,
  wrap: string[] = [], mode: NodeFloorMode = 'node-floor', warmup?: number, transport: EchoTransport = 'TCP'): Promise<EchoSample> {
  // warmup: as lib/tcp-echo-child.ts's (undefined: min(2000, messages) in one call).
  const args = [childScript(), addon, entryUrl, String(depth), String(messages), uid, mode, transport,
    ...(warmup !== undefined ? [String(warmup)] : [])];
  return new Promise((resolve, reject) => {
    const p = spawn(wrap[0] ?? process.execPath, wrap.length > 0 ? [...wrap.slice(1), process.execPath, ...args] : args,
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    // The floor's reason for failing (a wrong answer, a lost DAT) is on stderr: passed on, and kept for the error.
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      process.stderr.write(b);
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as EchoSample)
      : reject(new Error(`${transport} ${mode}: exit ${code}: ${err.trim().slice(-2000)}`))));
  });
}
