/**
 * bench/tcp-syscalls: system calls per echo round trip of each bench/tcp-throughput row, counted
 * by `strace -c -f` over the whole client process (every thread). Marginal: each row runs N and
 * 2N messages (the same warm-up, connect and close), and (calls(2N) - calls(N)) / N is what one
 * more echo costs, start-up excluded. Counts, not time: strace slows the process a lot, so the
 * CPU figures come from bench/tcp-throughput, never from here.
 *
 *   node dist/bench/tcp-syscalls.js [--messages 4000] [--depths 1,8,64]
 *                                   [--baseline build/baseline/<commit>/src]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatTable } from '../src/cli/table';
import { buildFloor } from './lib/c-floor';
import { startClusterChild } from './lib/cluster-process';
import { buildNodeFloor } from './lib/node-floor';
import { writeResult } from './lib/results';
import { runKind } from './lib/run-kind';
import { fmt } from './lib/stats';

function stringArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** `strace -c` summary: syscall -> [calls, errors]. */
function parseSummary(file: string): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    // % time  seconds  usecs/call  calls  [errors]  syscall
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (m && m[3] !== 'total') out.set(m[3] as string, [Number(m[1]), Number(m[2] ?? 0)]);
  }
  return out;
}

async function main(): Promise<void> {
  execFileSync('strace', ['-V'], { stdio: 'ignore' });  // fails early without strace
  const n = Number(stringArg('messages') ?? 4000);
  const depths = (stringArg('depths') ?? '1,8,64').split(',').map(Number);
  const baseline = stringArg('baseline');
  const floors = { floor: buildFloor(), nodeFloor: buildNodeFloor() };
  const kinds = ['native-loop', 'native-thread', ...(baseline ? ['native-baseline'] : []), 'typescript', 'c-floor', 'node-floor'];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-syscalls-'));
  const cluster = await startClusterChild({ tcpNodes: 1, encryption: true });
  const rows: Array<Array<string | number>> = [];
  const summary: Record<string, unknown>[] = [];
  let uid = 0;
  try {
    for (const depth of depths) {
      for (const kind of kinds) {
        const per = new Map<string, [number, number]>();
        const counts: Array<Map<string, [number, number]>> = [];
        for (const messages of [n, 2 * n]) {
          const file = path.join(dir, `${kind}-${depth}-${messages}.txt`);
          const wrap = ['strace', '-f', '-c', '-o', file];
          await runKind(kind, floors, cluster.entryUrl, depth, messages, 1, `sys-${uid++}`, baseline, wrap);
          counts.push(parseSummary(file));
        }
        const [a, b] = counts as [Map<string, [number, number]>, Map<string, [number, number]>];
        for (const name of new Set([...a.keys(), ...b.keys()])) {
          const [c1, e1] = a.get(name) ?? [0, 0];
          const [c2, e2] = b.get(name) ?? [0, 0];
          per.set(name, [(c2 - c1) / n, (e2 - e1) / n]);
        }
        // Only what scales with the messages (>= 0.01 per echo) is shown.
        const shown = [...per.entries()].filter(([, [c]]) => c >= 0.01).sort((x, y) => y[1][0] - x[1][0]);
        const total = shown.reduce((s, [, [c]]) => s + c, 0);
        const detail = shown.map(([name, [c, e]]) => `${name} ${fmt(c, 2)}${e >= 0.01 ? ` (${fmt(e, 2)} failed)` : ''}`).join(', ');
        rows.push([kind, depth, fmt(total, 2), detail]);
        summary.push({ kind, depth, syscallsPerEcho: total, perSyscall: Object.fromEntries(shown) });
        process.stderr.write(`${kind} at ${depth}: ${fmt(total, 2)} per echo\n`);
      }
    }
  } finally {
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nTCP echo, 64-byte encrypted bodies: system calls per echo, marginal ((2N - N) / N, N = ${n}), strace -c -f\n`);
  console.log(formatTable(['client', 'in flight', 'syscalls/echo', 'by call (failed = EAGAIN and the like)'], rows));
  const file = writeResult('tcp-syscalls', { messages: n, depths, baseline: baseline ?? null, summary });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
