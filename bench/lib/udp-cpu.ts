/**
 * bench/udp's CPU table (`--cpu-only`): client CPU per reliable 64-byte encrypted echo of each row,
 * each measurement in its own process, kinds interleaved, medians of the rounds; every row's CPU
 * over the C floor's of the same round (median of the per-round ratios).
 *
 *   native-loop / native-thread      the native UdpClient on each driver, request()
 *   native-stream                    the loop driver driven by rsend() and 'response' events (no promise)
 *   baseline-loop / baseline-thread  a baseline tree's UdpClient (--baseline)
 *   typescript                       the pure-TypeScript RUDP client (test/helpers)
 *   c-floor                          bench/c-floor/udp_echo_floor.c: one thread, blocking I/O
 *   node-floor                       the C floor's RUDP client on Node's loop (a uv_poll_t, one JS
 *                                    call per wake-up), prepared packets, no OpenSSL per message
 *   crypto-floor                     the node floor plus the C floor's OpenSSL work per message
 *   promise-floor                    the crypto floor plus a promise per request, awaited by lanes
 *                                    as the bench drives request(): the least a promise-per-request
 *                                    API can cost on Node
 */
import * as fs from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { formatTable } from '../../src/cli/table';
import { stringArg } from './args';
import { buildFloor } from './c-floor';
import { startClusterChild } from './cluster-process';
import { runRounds, type RoundSample } from './echo-run';
import { buildNodeFloor, NODE_FLOORS } from './node-floor';
import { runKind } from './run-kind';
import { fmt, median } from './stats';

export interface CpuRow {
  kind: string; label: string; depth: number; clients: number; rate: number; cpuUs: number; vsTs: number; vsFloor: number; epc: number;
  /** Datagrams sent / received by the client per echo (received: native only). */
  sentPerMsg: number; receivedPerMsg: number;
  /** The Node floors: wake-ups of their poll per echo. */
  wakeupsPerMsg: number;
  /** native-x against baseline-x (same driver) of the same round, median of the rounds (with --baseline). */
  vsBase?: number;
}

/** Client CPU per reliable echo: each driver beside the pure-TS client and the floors, interleaved rounds, medians. */
export async function cpuTable(rounds: number, messages: number, warmup: number, swarmClients: number, baseline?: string): Promise<{ rows: CpuRow[]; samples: RoundSample[] }> {
  if (baseline !== undefined && !fs.existsSync(path.join(baseline, 'dist', 'src', 'index.js'))) {
    throw new Error(`--baseline ${baseline}: not a tree built by bench/build-baseline.sh`);
  }
  const all = ['native-loop', 'native-stream', 'native-thread', ...(baseline ? ['baseline-loop', 'baseline-thread'] : []), 'typescript', 'c-floor', ...NODE_FLOORS];
  // --kinds / --depths (0: the swarm): a subset for a quicker A/B; the ratio columns need their anchors in it.
  const only = stringArg('kinds')?.split(',');
  const kinds = only === undefined ? all : all.filter((k) => only.includes(k));
  const depths = stringArg('depths')?.split(',').map(Number) ?? [1, 8, 64, 0];
  const cases = depths.map((d) => d === 0 ? { depth: 1, clients: swarmClients } : { depth: d, clients: 1 });
  const floors = { floor: '', nodeFloor: '', udpFloor: buildFloor('udp_echo_floor'), udpNodeFloor: buildNodeFloor('UDP') };
  const cluster = await startClusterChild({ tcpNodes: 0, udpNodes: 1, encryption: true });
  let samples: RoundSample[] = [];
  let uid = 0;
  try {
    samples = await runRounds(kinds, cases, rounds, messages, (kind, c, n) =>
      // The floors are one connection: no swarm row.
      kind.includes('floor') && c.clients > 1 ? Promise.resolve(undefined)
        : runKind(kind, floors, cluster.entryUrl, c.depth, n, c.clients, `cpu-${uid++}`, baseline, [], 'UDP', warmup), 'udp cpu');
  } finally {
    await cluster.stop();
  }
  const rows: CpuRow[] = [];
  for (const c of cases) {
    const pick = (kind: string): RoundSample[] =>
      samples.filter((x) => x.kind === kind && x.depth === c.depth && x.clients === c.clients);
    for (const kind of kinds) {
      const s = pick(kind);
      if (s.length === 0) continue;
      // Against an anchor of the same round (the same machine state), then the median.
      const ratio = (anchor: string): number =>
        median(s.flatMap((x) => pick(anchor).filter((t) => t.round === x.round).map((t) => x.cpuUs / t.cpuUs)));
      const base = kind.startsWith('native-') ? kind.replace('native-', 'baseline-') : '';
      const vsBase = base === '' ? Number.NaN : ratio(base);
      rows.push({ kind, label: c.clients > 1 ? `${c.clients} clients x 1` : String(c.depth), depth: c.depth, clients: c.clients,
        rate: median(s.map((x) => x.messages / x.seconds)), cpuUs: median(s.map((x) => x.cpuUs)), vsTs: ratio('typescript'), vsFloor: ratio('c-floor'),
        epc: median(s.map((x) => x.eventsPerCrossing).filter(Number.isFinite)),
        sentPerMsg: median(s.map((x) => x.sentPerMessage ?? Number.NaN).filter(Number.isFinite)),
        receivedPerMsg: median(s.map((x) => x.receivedPerMessage ?? Number.NaN).filter(Number.isFinite)),
        wakeupsPerMsg: median(s.map((x) => x.wakeupsPerMessage ?? Number.NaN).filter(Number.isFinite)),
        ...(Number.isFinite(vsBase) ? { vsBase } : {}) });
    }
  }
  return { rows, samples };
}

export function printCpu(rows: CpuRow[], rounds: number, warmup: number, loadStart?: number[]): void {
  const load = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ');
  console.log(`\nUDP reliable echo, 64-byte encrypted bodies, direct, ${rounds} rounds, medians (client CPU per message, after ${warmup} warm-up echoes; `
    + `load ${loadStart ? `${load(loadStart)} at start, ` : ''}${load(loadavg())}${loadStart ? ' at end' : ''})\n`);
  console.log(formatTable(['client', 'in flight', 'msgs/s', 'cpu us/msg', 'cpu / ts', 'cpu / floor', 'cpu / baseline', 'events/crossing', 'sent/msg', 'received/msg', 'wake-ups/msg'],
    rows.map((r) => [r.kind, r.label, fmt(r.rate, 0), fmt(r.cpuUs, 2), fmt(r.vsTs, 2), fmt(r.vsFloor, 2), r.vsBase === undefined ? '-' : fmt(r.vsBase, 2),
      fmt(r.epc, 1), fmt(r.sentPerMsg, 2), fmt(r.receivedPerMsg, 2), fmt(r.wakeupsPerMsg, 2)])));
}
