/**
 * bench/migration: live migration against the path users take without it (issue 12).
 *
 * N UDP + N TCP clients stream sequenced reliable requests (2/4, one every --interval ms, up to
 * --window in flight) on one node of each type; a second node of each type joins; then the loaded
 * nodes go OFFLINE together and every client moves:
 * - migration: clients with the default `migration: 'auto'` (bench/lib/migration-bot.ts);
 * - reconnect: on 'offline' the client is dropped, the endpoint API asked, a new session opened
 *   (bench/lib/reconnect-bot.ts, the plain path users write; its user data is lost).
 *
 * Modes: `processes` (default): redis-server, one `diarkis-node entry` process and one
 * `diarkis-node node` process per node, the OFFLINE call is SIGTERM; `in-process`: the embedded
 * cluster (memory store) in one child process. Either way this process holds only the clients.
 * Sizes, rounds and paths are interleaved (round r runs both paths, alternating which goes first);
 * figures are medians over rounds. A run counts only when delivered req/s matches offered.
 *
 *   node dist/bench/migration.js [--quick] [--sizes 500,1000] [--rounds 3] [--modes processes,in-process]
 *        [--interval 200] [--window 4] [--connect-rate 400] [--paths migration,reconnect] [--cpu-prof DIR] [--name migration]
 *        [--claim-listeners N] (in-process: the TCP nodes' extra claim listeners; 0 = one listener)
 *        [--udp-sockets N] (in-process: sockets per UDP node) [--extra-ports N] (processes: each node's --extra-ports)
 *        [--pacing on,off] (the nodes' offline-notice pacing: on = their default, off, a window, or window/drainMs;
 *        several values are interleaved within each round, for both paths alike)
 */
import * as fs from 'node:fs';
import { formatTable } from '../src/cli/table';
import { RedisServer } from '../test/helpers/redis-server';
import { pacingOption, runOnce, TYPES, type Mode, type Path, type RunResult, type RunRow } from './lib/migration-run';
import { writeResult } from './lib/results';
import { fmt, median } from './lib/stats';

const argv = process.argv;
const quick = argv.includes('--quick');
function arg(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
function num(name: string, full: number, small: number): number {
  const v = Number(arg(name));
  return Number.isFinite(v) && v > 0 ? v : quick ? small : full;
}
const note = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

/** A run is valid when the cluster answered what the clients offered (within 5%). */
export const DELIVERY_TOLERANCE = 0.95;

interface Summary {
  mode: Mode; clients: number; pacing: string; transport: string; path: Path; validRounds: number;
  allMovedMs: number; moveP50Ms: number; moveP99Ms: number; fromOfflineP50Ms: number; fromOfflineP99Ms: number; gapP50Ms: number; gapP99Ms: number;
  lost: number; duplicated: number; kept: string; clientCpuMs: number; serverCpuMs: number; moveCpuMs: number;
}

function summarise(runs: RunResult[], mode: Mode, n: number, pacing: string): Summary[] {
  const out: Summary[] = [];
  for (const t of TYPES) {
    for (const path of ['migration', 'reconnect'] as const) {
      const rs = runs.filter((r) => r.spec.mode === mode && r.spec.clients === n && r.spec.path === path && r.spec.pacing === pacing);
      const valid = rs.filter((r) => r.deliveredReqPerSec >= DELIVERY_TOLERANCE * r.offeredReqPerSec);
      const rows = valid.map((r) => r.rows.find((x) => x.transport === t) as RunRow);
      const med = (f: (r: RunRow) => number): number => median(rows.map(f));
      out.push({
        mode, clients: n, pacing, transport: t, path, validRounds: valid.length,
        allMovedMs: med((r) => r.allMovedMs), moveP50Ms: med((r) => r.moveP50Ms), moveP99Ms: med((r) => r.moveP99Ms),
        fromOfflineP50Ms: med((r) => r.fromOfflineP50Ms), fromOfflineP99Ms: med((r) => r.fromOfflineP99Ms),
        gapP50Ms: med((r) => r.gapP50Ms), gapP99Ms: med((r) => r.gapP99Ms),
        lost: rows.reduce((a, r) => a + r.lost, 0), duplicated: rows.reduce((a, r) => a + r.duplicated, 0),
        kept: `${rows.reduce((a, r) => a + r.userDataKept, 0)}/${rows.reduce((a, r) => a + r.connected, 0)}`,
        clientCpuMs: median(valid.map((r) => r.clientCpuMsPerMove)), serverCpuMs: median(valid.map((r) => r.serverCpuMsPerMove)),
        moveCpuMs: median(valid.map((r) => r.moveCpuMsPerMoveByAnswers)),
      });
    }
  }
  return out;
}

async function main(): Promise<void> {
  const sizes = (arg('sizes') ?? (quick ? '100' : '500,1000')).split(',').map(Number).filter((x) => x > 0);
  const rounds = Math.floor(num('rounds', 3, 1));
  const modes = (arg('modes') ?? 'processes,in-process').split(',') as Mode[];
  const intervalMs = num('interval', 200, 200);
  const window = Math.floor(num('window', 4, 4));
  const connectRate = num('connect-rate', 400, 400);
  const paths = (arg('paths') ?? 'migration,reconnect').split(',');
  const pacings = (arg('pacing') ?? 'on').split(',');
  for (const p of pacings) pacingOption(p);
  const profDir = arg('cpu-prof');
  const claimArg = arg('claim-listeners');
  const claimListeners = claimArg === undefined ? undefined : Number(claimArg);
  const optNum = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  const udpSockets = optNum('udp-sockets');
  const extraPorts = optNum('extra-ports');
  const nodeFlags = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
  const redis = modes.includes('processes') ? await RedisServer.start() : null;
  const runs: RunResult[] = [];
  let k = 0;
  try {
    for (const mode of modes) {
      for (const n of sizes) {
        for (let r = 0; r < rounds; r++) {
          const order: Path[] = (r % 2 === 0 ? ['migration', 'reconnect'] : ['reconnect', 'migration']).filter((p) => paths.includes(p)) as Path[];
          const pacingOrder = r % 2 === 0 ? pacings : [...pacings].reverse();
          for (const pacing of pacingOrder) for (const path of order) {
            const res = await runOnce({ mode, path, pacing, clients: n, intervalMs, window, connectRate, redisUrl: redis?.url ?? '', redisPid: redis?.pid ?? 0, prefix: `b${k++}:`, nodeFlags, ...(claimListeners !== undefined ? { claimListeners } : {}), ...(udpSockets !== undefined ? { udpSockets } : {}), ...(extraPorts !== undefined ? { extraPorts } : {}) }, note);
            note(`  nominal ${fmt(res.nominalReqPerSec, 0)} req/s, offered ${fmt(res.offeredReqPerSec, 0)}, delivered ${fmt(res.deliveredReqPerSec, 0)}; load ${res.loadAvg.map((x) => x.toFixed(1)).join(' ')}`);
            note(`  CPU from OFFLINE to all moved: ${Object.entries(res.cpuMsByProcess).map(([k, v]) => `${k} ${fmt(v, 0)} ms`).join(', ')}; less streaming: ${fmt(res.moveCpuMsPerMove, 2)} ms per move by time, ${fmt(res.moveCpuMsPerMoveByAnswers, 2)} by answers (${res.answersInWindows.move} answers in the move window of ${fmt((res.moveWindowMonoUs[1] - res.moveWindowMonoUs[0]) / 1000, 0)} ms, ${res.answersInWindows.steady} in the streaming one)`);
            note(`  less streaming (by answers), ms per move: ${Object.entries(res.moveCpuMsPerMoveByGroup).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ')}`);
            const per = Object.entries(res.windowCounts).map(([k, v]) => `${k} ${fmt(v / (res.rows[0].moved + res.rows[1].moved || 1), 2)}`);
            note(`  counted in the move window, per moved client: ${per.join(', ')}`);
            runs.push(res);
          }
        }
      }
    }
  } finally {
    await redis?.stop();
  }
  const summary: Summary[] = [];
  for (const mode of modes) for (const n of sizes) for (const p of pacings) summary.push(...summarise(runs, mode, n, p));
  console.log(`\nNode OFFLINE with N UDP + N TCP clients streaming 2/4 every ${intervalMs} ms (window ${window}); medians of ${rounds} interleaved rounds`);
  console.log(`move = client's 'offline' event -> its first answer by the new node; all moved = OFFLINE call -> the last such answer;`);
  console.log(`from OFFLINE = the OFFLINE call -> each client's first answer by the new node (counts the wait for a paced notice)\n`);
  const table = summary.map((s) => [
    s.mode, `${s.clients}+${s.clients}`, s.pacing, s.transport, s.path, s.validRounds, fmt(s.allMovedMs, 0), fmt(s.moveP50Ms, 0), fmt(s.moveP99Ms, 0),
    fmt(s.fromOfflineP50Ms, 0), fmt(s.fromOfflineP99Ms, 0), fmt(s.gapP50Ms, 0), fmt(s.gapP99Ms, 0), s.lost, s.duplicated, s.kept, fmt(s.clientCpuMs, 2), fmt(s.serverCpuMs, 2), fmt(s.moveCpuMs, 2),
  ]);
  console.log(formatTable(['mode', 'clients', 'pacing', 'transport', 'path', 'valid rounds', 'all moved ms', 'move p50', 'move p99', 'from OFFLINE p50', 'from OFFLINE p99', 'gap p50', 'gap p99', 'lost', 'dup', 'data kept', 'client CPU ms/move', 'server CPU ms/move', 'move CPU ms (all, less streaming)'], table));
  const goals: string[] = [];
  for (const mode of modes) {
    for (const n of sizes) {
      for (const p of pacings) {
        for (const t of TYPES) {
          const at = (path: Path): Summary | undefined => summary.find((s) => s.mode === mode && s.clients === n && s.pacing === p && s.transport === t && s.path === path);
          const m = at('migration');
          const b = at('reconnect');
          if (m === undefined || b === undefined) continue;
          const ok = m.allMovedMs <= b.allMovedMs / 2 && m.moveP99Ms <= b.moveP99Ms / 2 && m.lost === 0 && m.duplicated === 0 && (n !== 500 || m.moveP99Ms <= 250);
          goals.push(`${mode} ${n}+${n} pacing ${p} ${t}: all moved ${fmt(m.allMovedMs / b.allMovedMs, 2)}x of reconnect, move p99 ${fmt(m.moveP99Ms, 0)} ms = ${fmt(m.moveP99Ms / b.moveP99Ms, 2)}x -> goal ${ok ? 'met' : 'MISSED'}`);
        }
      }
    }
  }
  console.log(`\n${goals.join('\n')}`);
  console.log('\nPhase breakdown (migration runs, p50 / p99 ms of each step, median over rounds):');
  const phaseRows: Array<Array<string | number>> = [];
  for (const mode of modes) {
    for (const n of sizes) {
      for (const p of pacings) {
        const rs = runs.filter((r) => r.spec.mode === mode && r.spec.clients === n && r.spec.pacing === p && r.spec.path === 'migration');
        for (const t of TYPES) {
          for (const [i, step] of (rs[0]?.phasesByTransport[t] ?? []).entries()) {
            const med = (f: 'p50Ms' | 'p99Ms'): string => fmt(median(rs.map((r) => r.phasesByTransport[t][i]?.[f] ?? Number.NaN)), 1);
            phaseRows.push([mode, `${n}+${n}`, p, t, step.step, med('p50Ms'), med('p99Ms')]);
          }
        }
      }
    }
  }
  console.log(formatTable(['mode', 'clients', 'pacing', 'transport', 'step', 'p50 ms', 'p99 ms'], phaseRows));
  const invalid = runs.filter((r) => r.deliveredReqPerSec < DELIVERY_TOLERANCE * r.offeredReqPerSec);
  if (invalid.length > 0) console.log(`\n${invalid.length} run(s) left out: delivered below ${DELIVERY_TOLERANCE * 100}% of offered`);
  const file = writeResult(arg('name') ?? 'migration', { quick, sizes, rounds, modes, pacings, intervalMs, window, connectRate, summary, goals, runs });
  console.log(`wrote ${file}`);
  if (profDir !== undefined && fs.existsSync(profDir)) console.log(`node CPU profiles in ${profDir}`);
  const bad = summary.filter((s) => s.path === 'migration' && (s.lost > 0 || s.duplicated > 0));
  if (bad.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
