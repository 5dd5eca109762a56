/**
 * The counting benches' run (tcp-syscalls, tcp-instructions): each row runs one bench/tcp-throughput
 * kind (or, with transport UDP, one of bench/udp's CPU rows) with N and then 2N echoes under a
 * counter (strace, callgrind), against one node in a child process, with the same start-up, warm-up
 * and close both times; (count(2N) - count(N)) / N is what one more echo costs.
 * BENCH_KEEP_COUNTS=1 keeps the raw files (callgrind.out per row and N) for a by-function look.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildFloor } from './c-floor';
import { startClusterChild } from './cluster-process';
import type { EchoTransport } from './echo-run';
import { buildNodeFloor } from './node-floor';
import { runKind } from './run-kind';

/** A tool the measured client process runs under, and how its counts are read back. */
export interface Counter<T> {
  /** Prefix of the runs' user ids and of the scratch folder. */
  tag: string;
  /** The command to run the client under, writing its counts to `file`. */
  wrap(file: string): string[];
  /** The counts `wrap` wrote to `file`. */
  read(file: string): T;
}

export interface MarginalRow {
  kind: string;
  depth: number;
}

/** Runs every row at N and 2N messages; `onRow` gets both counts, in row order. */
export async function countMarginal<T>(
  counter: Counter<T>,
  rows: MarginalRow[],
  n: number,
  baseline: string | undefined,
  onRow: (row: MarginalRow, counts: [T, T]) => void,
  transport: EchoTransport = 'TCP',
): Promise<void> {
  const udp = transport === 'UDP';
  const floors = udp ? { floor: '', nodeFloor: '', udpFloor: buildFloor('udp_echo_floor'), udpNodeFloor: buildNodeFloor('UDP') } : { floor: buildFloor(), leanFloor: buildFloor('tcp_echo_floor_lean'), nodeFloor: buildNodeFloor() };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${transport.toLowerCase()}-${counter.tag}-`));
  const cluster = await startClusterChild(udp ? { tcpNodes: 0, udpNodes: 1, encryption: true } : { tcpNodes: 1, encryption: true });
  let uid = 0;
  try {
    for (const row of rows) {
      const counts: T[] = [];
      for (const messages of [n, 2 * n]) {
        const file = path.join(dir, `${row.kind}-${row.depth}-${messages}.out`);
        await runKind(row.kind, floors, cluster.entryUrl, row.depth, messages, 1, `${counter.tag}-${uid++}`, baseline, counter.wrap(file), transport);
        counts.push(counter.read(file));
      }
      onRow(row, counts as [T, T]);
    }
  } finally {
    await cluster.stop();
    // BENCH_KEEP_COUNTS=1 keeps the counters' files (e.g. for callgrind_annotate) and says where.
    if (process.env.BENCH_KEEP_COUNTS === '1') console.log(`counts kept in ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
}
