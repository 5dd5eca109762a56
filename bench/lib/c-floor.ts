/**
 * The C floors (bench/c-floor): tcp_echo_floor.c for bench/tcp-throughput, udp_echo_floor.c for
 * bench/udp's CPU table. Built here with the system C compiler and OpenSSL (libssl-dev, installed
 * by scripts/check-system.sh), run as children against the same node. Each program measures its
 * own CPU (getrusage) around the measured messages.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fetchEndpoint, type EndpointInfo } from '../../test/helpers/ts-tcp-client';
import type { EchoSample } from './tcp-echo-child';

/** The checkout's root, from the sources (vitest) or from dist/ (the built bench). */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/**
 * tcp_echo_floor_lean: the TCP floor built with the native client's crypto (HMAC states keyed
 * once, CBC chained: floor_common.h's default) instead of the anchor's EVP re-initialisation
 * per message; bench/tcp-throughput's c-floor-lean row.
 */
export type FloorProgram = 'tcp_echo_floor' | 'tcp_echo_floor_lean' | 'udp_echo_floor';

/** Compiles a floor client (once per run) and returns the executable's path. */
export function buildFloor(program: FloorProgram = 'tcp_echo_floor'): string {
  const root = repoRoot();
  const lean = program === 'tcp_echo_floor_lean';
  const src = path.join(root, 'bench', 'c-floor', `${lean ? 'tcp_echo_floor' : program}.c`);
  const out = path.join(root, 'build', 'bench', program);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-Werror', ...(lean ? ['-DFLOOR_LEAN_CRYPTO'] : []), '-o', out, src, '-lcrypto'],
    { stdio: 'inherit' });
  return out;
}

export interface FloorResult { messages: number; seconds: number; cpuUs: number; sentPerMessage?: number; receivedPerMessage?: number }

/** Runs a floor with the session of `ep`; rejects with the program's stderr when it exits non-zero. */
export function spawnFloor(exe: string, ep: EndpointInfo, depth: number, messages: number, warmup: number,
  extra: string[] = [], wrap: string[] = []): Promise<FloorResult> {
  const args = [ep.serverHost, String(ep.serverPort), ep.sid, ep.encryptionKey, ep.encryptionIV, ep.encryptionMacKey,
    String(depth), String(messages), String(warmup), ...extra];
  return new Promise((resolve, reject) => {
    const p = spawn(wrap[0] ?? exe, wrap.length > 0 ? [...wrap.slice(1), exe, ...args] : args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      process.stderr.write(b);
    });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as FloorResult)
      : reject(new Error(`${path.basename(exe)} exited ${code}: ${err.trim()}`))));
  });
}

/** bench/tcp-throughput: a TCP floor's sample, with the echo child's warm-up (default 2000 or fewer). */
export async function runFloor(exe: string, entryUrl: string, depth: number, messages: number, uid: string,
  wrap: string[] = [], kind = 'c-floor', warmup = Math.min(2000, messages)): Promise<EchoSample> {
  const ep = await fetchEndpoint(entryUrl, 'TCP', uid);
  const r = await spawnFloor(exe, ep, depth, messages, warmup, [], wrap);
  return { kind, depth, clients: 1, messages: r.messages, seconds: r.seconds, cpuUs: r.cpuUs, eventsPerCrossing: Number.NaN };
}

/** bench/udp: the UDP floor's sample, with the echo child's warm-up (default 2000 or fewer). */
export async function runUdpFloor(exe: string, entryUrl: string, depth: number, messages: number, uid: string,
  wrap: string[] = [], warmup = Math.min(2000, messages)): Promise<EchoSample> {
  const r = await spawnFloor(exe, await fetchEndpoint(entryUrl, 'UDP', uid), depth, messages, warmup, [], wrap);
  return { kind: 'c-floor', depth, clients: 1, messages: r.messages, seconds: r.seconds, cpuUs: r.cpuUs, eventsPerCrossing: Number.NaN,
    sentPerMessage: r.sentPerMessage, receivedPerMessage: r.receivedPerMessage };
}
