/**
 * bench/tcp-instructions: user-space instructions per echo of bench/tcp-throughput's rows, counted
 * by valgrind's callgrind over the whole client process (every thread; the kernel's share is not
 * counted: see bench/tcp-syscalls for that). Marginal, as tcp-syscalls: each row runs N and 2N
 * messages (the same start-up, warm-up and close), and (Ir(2N) - Ir(N)) / N is what one more echo
 * costs. Counts, not time: the same on a busy machine, where CPU time per message is noisy
 * (this machine has no hardware counters for `perf stat`). Slow (valgrind): a minute per row.
 * `--transport UDP`: bench/udp's rows instead (the UdpClient, the pure-TS RUDP client, the UDP C and Node floors).
 *
 *   node dist/bench/tcp-instructions.js [--messages 10000] [--depth 64] [--kinds a,b,...]
 *                                       [--baseline build/baseline/<commit>/src] [--transport UDP]
 *                                       [--addon build/prof/Release/diarkis_node.node]
 * --addon: this tree's rows load that addon (an unstripped build, for callgrind_annotate by
 * function with BENCH_KEEP_COUNTS=1).
 */
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { formatTable } from '../src/cli/table';
import { stringArg } from './lib/args';
import { countMarginal } from './lib/marginal';
import { NODE_FLOORS } from './lib/node-floor';
import { writeResult } from './lib/results';
import { fmt } from './lib/stats';

/** callgrind's total of executed instructions (the `summary:` line). */
function instructions(file: string): number {
  const m = /^summary:\s+(\d+)/m.exec(fs.readFileSync(file, 'utf8'));
  if (!m) throw new Error(`${file}: no summary line`);
  return Number(m[1]);
}

async function main(): Promise<void> {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });  // fails early without valgrind
  const n = Number(stringArg('messages') ?? 10000);
  const depth = Number(stringArg('depth') ?? 64);
  const baseline = stringArg('baseline');
  const transport = stringArg('transport') === 'UDP' ? 'UDP' : 'TCP';
  const all = transport === 'UDP' ? ['native-loop', ...(baseline ? ['baseline-loop'] : []), 'typescript', 'c-floor', ...NODE_FLOORS]
    : ['native-loop', 'native-stream', ...(baseline ? ['baseline-loop', 'baseline-stream'] : []), 'c-floor', 'c-floor-lean', ...NODE_FLOORS];
  const kinds = stringArg('kinds')?.split(',') ?? all;
  const rows: Array<Array<string | number>> = [];
  const summary: Record<string, unknown>[] = [];
  const addonArg = stringArg('addon');
  const addon = addonArg === undefined ? [] : ['env', `DIARKIS_NODE_ADDON=${path.resolve(addonArg)}`];
  const callgrind = {
    tag: 'ir',
    // V8 writes code it then runs: valgrind must check every write outside mapped files.
    wrap: (file: string) => [...addon, 'valgrind', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${file}`, '--dump-line=no'],
    read: instructions,
  };
  await countMarginal(callgrind, kinds.map((kind) => ({ kind, depth })), n, baseline, ({ kind }, [c1, c2]) => {
    const per = (c2 - c1) / n;
    rows.push([kind, depth, fmt(per, 0)]);
    summary.push({ kind, depth, instructionsPerEcho: per });
    process.stderr.write(`${kind} at ${depth}: ${fmt(per, 0)} instructions per echo\n`);
  }, transport);
  const floorIr = summary.find((s) => s.kind === 'c-floor')?.instructionsPerEcho as number | undefined;
  console.log(`\n${transport} echo, 64-byte encrypted bodies: user-space instructions per echo, marginal ((2N - N) / N, N = ${n}), callgrind\n`);
  console.log(formatTable(['client', 'in flight', 'instructions/echo', '/ C floor'],
    rows.map((r, i) => [...r, floorIr ? fmt((summary[i]?.instructionsPerEcho as number) / floorIr, 2) : '-'])));
  const file = writeResult(transport === 'UDP' ? 'udp-instructions' : 'tcp-instructions', { messages: n, depth, baseline: baseline ?? null, summary });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
