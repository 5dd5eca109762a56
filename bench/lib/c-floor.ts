/**
 * The C floor of bench/tcp-throughput (bench/c-floor/tcp_echo_floor.c): built here with the
 * system C compiler and OpenSSL, run as a child against the same node. The program measures its
 * own CPU (getrusage) around the measured messages.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fetchEndpoint } from '../../test/helpers/ts-tcp-client';
import type { EchoSample } from './tcp-echo-child';

const root = path.resolve(__dirname, '..', '..', '..');

/** Compiles the floor client (once per run) and returns the executable's path. */
export function buildFloor(): string {
  const src = path.join(root, 'bench', 'c-floor', 'tcp_echo_floor.c');
  const out = path.join(root, 'build', 'bench', 'tcp_echo_floor');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', out, src, '-lcrypto'], { stdio: 'inherit' });
  return out;
}

export async function runFloor(exe: string, entryUrl: string, depth: number, messages: number, uid: string,
  wrap: string[] = []): Promise<EchoSample> {
  const ep = await fetchEndpoint(entryUrl, 'TCP', uid);
  const args = [ep.serverHost, String(ep.serverPort), ep.sid, ep.encryptionKey, ep.encryptionIV, ep.encryptionMacKey,
    String(depth), String(messages), String(Math.min(2000, messages))];
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(wrap[0] ?? exe, wrap.length > 0 ? [...wrap.slice(1), exe, ...args] : args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    p.stdout.on('data', (b: Buffer) => (s += b.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`tcp_echo_floor exited ${code}`))));
  });
  const r = JSON.parse(out) as { messages: number; seconds: number; cpuUs: number };
  return { kind: 'c-floor', depth, clients: 1, messages: r.messages, seconds: r.seconds, cpuUs: r.cpuUs, eventsPerCrossing: Number.NaN };
}
