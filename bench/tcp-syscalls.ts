/**
 * bench/tcp-syscalls: system calls per echo round trip of each bench/tcp-throughput row, counted
 * by `strace -c -f` over the whole client process (every thread). Marginal: each row runs N and
 * 2N messages (the same warm-up, connect and close), and (calls(2N) - calls(N)) / N is what one
 * more echo costs, start-up excluded. Counts, not time: strace slows the process a lot, so the
 * CPU figures come from bench/tcp-throughput, never from here. `--transport UDP`: bench/udp's rows
 * (with the UDP Node floors: the C floor's client on Node's loop, with and without its OpenSSL work).
 *
 *   node dist/bench/tcp-syscalls.js [--messages 4000] [--depths 1,8,64]
 *                                   [--baseline build/baseline/<commit>/src] [--transport UDP] [--kinds native-loop,c-floor,...]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { formatTable } from '../src/cli/table';
import { stringArg } from './lib/args';
import { countMarginal } from './lib/marginal';
import { writeResult } from './lib/results';
import { fmt } from './lib/stats';

type Calls = Map<string, [number, number]>;

/** `strace -c` summary: syscall -> [calls, errors]. */
function parseSummary(file: string): Calls {
  const out: Calls = new Map();
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
  const transport = stringArg('transport') === 'UDP' ? 'UDP' : 'TCP';
  const every = transport === 'UDP' ? ['native-loop', 'native-thread', ...(baseline ? ['baseline-loop'] : []), 'typescript', 'c-floor', 'node-floor', 'crypto-floor']
    : ['native-loop', 'native-thread', ...(baseline ? ['native-baseline'] : []), 'typescript', 'c-floor', 'node-floor'];
  // --kinds a,b: some rows only.
  const only = stringArg('kinds')?.split(',');
  const kinds = only === undefined ? every : every.filter((k) => only.includes(k));
  const rows: Array<Array<string | number>> = [];
  const summary: Record<string, unknown>[] = [];
  const strace = { tag: 'sys', wrap: (file: string) => ['strace', '-f', '-c', '-o', file], read: parseSummary };
  const runs = depths.flatMap((depth) => kinds.map((kind) => ({ kind, depth })));
  await countMarginal<Calls>(strace, runs, n, baseline, ({ kind, depth }, [a, b]) => {
    const per: Calls = new Map();
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
  }, transport);
  console.log(`\n${transport} echo, 64-byte encrypted bodies: system calls per echo, marginal ((2N - N) / N, N = ${n}), strace -c -f\n`);
  console.log(formatTable(['client', 'in flight', 'syscalls/echo', 'by call (failed = EAGAIN and the like)'], rows));
  const file = writeResult(transport === 'UDP' ? 'udp-syscalls' : 'tcp-syscalls', { messages: n, depths, baseline: baseline ?? null, summary });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
