/**
 * bench/tcp-throughput: client CPU per message of the native TcpClient on each driver, side by
 * side with its anchors, in one run against the same reference TCP node (in a child process):
 *
 *   native-loop      the native client on the host-loop driver (io: 'loop', the default), request()
 *   native-stream    the same client driven by send() and its 'response' events (no promise per
 *                    message): what a load-test bot that does not await each answer pays
 *   native-thread    the native client on the network-thread driver (io: 'thread')
 *   baseline-loop    a baseline commit's own TcpClient and addon (--baseline <dir>, built by
 *   native-baseline  bench/build-baseline.sh), on its loop driver / on its network thread (A/B)
 *   baseline-stream  the same client on its loop driver, driven as native-stream (the A/B of that row)
 *   typescript       the pure-TypeScript client over node:net (test/helpers/ts-tcp-client.ts)
 *   c-floor          a one-thread C client with OpenSSL (bench/c-floor), built by this bench: the
 *                    issue's anchor, its crypto contexts re-initialised per message (EVP)
 *   c-floor-lean     the same program with the native client's crypto (HMAC states keyed once,
 *                    CBC chained); `cpu / lean` is every row's ratio against it
 *   node-floor       what any addon pays per round trip on Node's loop: write a prepared packet,
 *                    uv_poll, read, one JS callback per read; no protocol, no crypto
 *                    (bench/node-floor), built by this bench
 *   crypto-floor     the Node floor plus the C floor's OpenSSL work per message (seal, verify, open)
 *   promise-floor    the crypto floor plus a promise per request awaited by a lane (as the bench
 *                    drives request()): the least any promise-per-request API can cost on Node
 *
 * Workload: 64-byte encrypted echo (2/1) at 1, 8 and 64 requests in flight on one client, and a
 * swarm of --swarm clients in one process, each at 1 in flight. Every measurement runs in its own
 * process (process.cpuUsage of all its threads); kinds are interleaved, their order rotated each
 * round; the table shows medians over the rounds, and CPU ratios against the floor and the
 * TypeScript client computed per round (same round, same machine state) before taking medians.
 * Each sample follows --warmup echoes (default 20,000, driven in two calls; every kind alike, the
 * C floors included): V8's compiler threads stay busy for ~10,000 echoes and recompile once a
 * second set of closures appears, and a shorter warm-up bills that to the measured echoes.
 * `--warmup short`: the bench's setting before the seventh session (min(2000, messages) in one call).
 *
 *   node dist/bench/tcp-throughput.js [--rounds 5] [--messages 20000] [--warmup 20000|short] [--swarm 500] [--no-swarm]
 *                                     [--depths 1,8,64] [--baseline build/baseline/<commit>/src]
 *                                     [--kinds native-loop,baseline-loop,c-floor,...]
 */
import * as fs from 'node:fs';
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { formatTable } from '../src/cli/table';
import { buildFloor } from './lib/c-floor';
import { startClusterChild } from './lib/cluster-process';
import { buildNodeFloor, NODE_FLOORS } from './lib/node-floor';
import { runRounds, type EchoCase, type RoundSample } from './lib/echo-run';
import { writeResult } from './lib/results';
import { runKind } from './lib/run-kind';
import { fmt, median } from './lib/stats';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

function stringArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Each row of this tree and the baseline's row that runs the same client the same way. */
const BASELINE_TWIN: Record<string, string> = { 'native-loop': 'baseline-loop', 'native-stream': 'baseline-stream', 'native-thread': 'native-baseline' };

async function main(): Promise<void> {
  const rounds = arg('rounds', 5);
  const messages = arg('messages', 20000);
  const swarm = arg('swarm', 500);
  const short = stringArg('warmup') === 'short';
  const warmup = short ? undefined : arg('warmup', 20_000);
  const warmupText = warmup === undefined ? `min(2000, messages) warm-up echoes in one call (the short warm-up)`
    : `${warmup} warm-up echoes in two calls`;
  const baseline = stringArg('baseline');
  if (baseline !== undefined && !fs.existsSync(path.join(baseline, 'dist', 'src', 'index.js'))) {
    throw new Error(`--baseline ${baseline}: not a tree built by bench/build-baseline.sh`);
  }
  const floors = { floor: buildFloor(), leanFloor: buildFloor('tcp_echo_floor_lean'), nodeFloor: buildNodeFloor() };
  const all = ['native-loop', 'native-stream', 'native-thread', ...(baseline ? ['baseline-loop', 'baseline-stream', 'native-baseline'] : []),
    'typescript', 'c-floor', 'c-floor-lean', ...NODE_FLOORS];
  // --kinds a,b,...: some rows only (an A/B that fits the bench lock's few minutes).
  const only = stringArg('kinds')?.split(',');
  const kinds = only === undefined ? all : all.filter((k) => only.includes(k));
  const depths = (stringArg('depths') ?? '1,8,64').split(',').map(Number).filter((d) => d >= 1 && d <= 256);
  const cases: EchoCase[] = depths.map((depth) => ({ depth, clients: 1 }));
  if (!process.argv.includes('--no-swarm')) cases.push({ depth: 1, clients: swarm });
  const loadStart = loadavg();
  const cluster = await startClusterChild({ tcpNodes: 1, encryption: true });
  let samples: RoundSample[] = [];
  let uid = 0;
  try {
    samples = await runRounds(kinds, cases, rounds, messages, async (kind, c, n) => {
      if (kind.includes('floor') && c.clients > 1) return undefined;  // the floors are one connection
      return runKind(kind, floors, cluster.entryUrl, c.depth, n, c.clients, `${kind}-${uid++}`, baseline, [], 'TCP', warmup);
    }, 'tcp');
  } finally {
    await cluster.stop();
  }
  const rows: Array<Array<string | number>> = [];
  const summary: Record<string, unknown>[] = [];
  for (const c of cases) {
    const label = c.clients > 1 ? `${c.clients} clients x 1` : String(c.depth);
    const pick = (kind: string): RoundSample[] =>
      samples.filter((s) => s.kind === kind && s.depth === c.depth && s.clients === c.clients);
    // Ratios within one round (the same machine state), then the median over rounds.
    const ratio = (kind: string, anchor: string): number => {
      const per: number[] = [];
      for (const s of pick(kind)) {
        const a = pick(anchor).find((x) => x.round === s.round);
        if (a) per.push(s.cpuUs / a.cpuUs);
      }
      return median(per);
    };
    for (const kind of kinds) {
      const s = pick(kind);
      if (s.length === 0) continue;
      const rate = median(s.map((x) => x.messages / x.seconds));
      const cpu = median(s.map((x) => x.cpuUs));
      const epc = median(s.map((x) => x.eventsPerCrossing).filter(Number.isFinite));
      const vsFloor = ratio(kind, 'c-floor');
      const vsLean = ratio(kind, 'c-floor-lean');
      const vsTs = ratio(kind, 'typescript');
      // The A/B: this tree's row against the baseline's same row, per round.
      const twin = BASELINE_TWIN[kind];
      const vsBase = twin === undefined ? Number.NaN : ratio(kind, twin);
      rows.push([kind, label, fmt(rate, 0), fmt(cpu, 2), fmt(vsFloor, 2), fmt(vsLean, 2), fmt(vsTs, 2), fmt(vsBase, 2), fmt(epc, 1)]);
      summary.push({ kind, depth: c.depth, clients: c.clients, messagesPerSecond: rate, cpuUsPerMessage: cpu,
        cpuVsFloor: vsFloor, cpuVsLeanFloor: vsLean, cpuVsTypescript: vsTs, cpuVsBaseline: Number.isFinite(vsBase) ? vsBase : null,
        eventsPerCrossing: Number.isFinite(epc) ? epc : null });
    }
  }
  const load = { start: loadStart, end: loadavg() };
  const loadText = (l: number[]): string => l.map((x) => x.toFixed(1)).join(' ');
  console.log(`\nTCP echo, 64-byte encrypted bodies, ${rounds} rounds, medians (client CPU per message, after ${warmupText}; `
    + `load ${loadText(load.start)} at start, ${loadText(load.end)} at end)\n`);
  console.log(formatTable(['client', 'in flight', 'msgs/s', 'cpu us/msg', 'cpu / floor', 'cpu / lean', 'cpu / ts', 'cpu / baseline', 'events/crossing'], rows));
  const file = writeResult('tcp-throughput', { rounds, messages,
    warmup: warmup ?? 'short', warmupCalls: warmup === undefined ? 1 : 2, loadAverage: load, swarm, baseline: baseline ?? null, summary, samples });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
