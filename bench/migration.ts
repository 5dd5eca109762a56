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
 * figures are medians over rounds. A run counts only when delivered req/s matches offered and every
 * client connected. `node dist/bench/migration-merge.js` summarises the runs of several result files.
 *
 *   node dist/bench/migration.js [--quick] [--sizes 500,1000] [--rounds 3] [--modes processes,in-process]
 *        [--interval 200] [--window 4] [--connect-rate 400] [--paths migration,reconnect] [--cpu-prof DIR] [--name migration]
 *        [--claim-listeners N] (in-process: the TCP nodes' extra claim listeners; 0 = one listener)
 *        [--udp-sockets N] (in-process: sockets per UDP node) [--extra-ports N] (processes: each node's --extra-ports)
 *        [--pacing on,off] (the nodes' offline-notice pacing: on = their default, off, a window, or window/drainMs;
 *        several values are interleaved within each round, for both paths alike)
 *        [--diag] (processes: UDP drops and buffers, loop stalls, resends, the slowest moves' steps;
 *        bench/lib/migration-diag.ts) [--node-flags "--max-semi-space-size=32"] (node.js flags of the
 *        server processes, e.g. V8's GC settings)
 *        [--warm 0,300] (warm-up clients per transport before the measured storm, bench/lib/warm-up.ts:
 *        the node processes first run the measured path's steps, as long-running nodes have; 0 = fresh
 *        processes, the default; several values are interleaved within each round, like --pacing)
 */
import * as fs from 'node:fs';
import { RedisServer } from '../test/helpers/redis-server';
import { pacingOption, runOnce, type Mode, type Path, type RunResult } from './lib/migration-run';
import { cpuLines, goalLines, isValidRun, phaseTable, summariseAll, summaryTable, DELIVERY_TOLERANCE } from './lib/migration-summary';
import { writeResult } from './lib/results';
import { fmt } from './lib/stats';

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
  const warms = (arg('warm') ?? '0').split(',').map(Number);
  if (warms.some((w) => !Number.isInteger(w) || w < 0)) throw new RangeError(`--warm: warm-up clients per transport, e.g. 0,300, not ${arg('warm') ?? ''}`);
  const profDir = arg('cpu-prof');
  const claimArg = arg('claim-listeners');
  const claimListeners = claimArg === undefined ? undefined : Number(claimArg);
  const optNum = (name: string): number | undefined => (arg(name) === undefined ? undefined : Number(arg(name)));
  const udpSockets = optNum('udp-sockets');
  const extraPorts = optNum('extra-ports');
  const diag = argv.includes('--diag');
  const extraFlags = (arg('node-flags') ?? '').split(' ').filter((f) => f !== '');
  const nodeFlags = [...extraFlags, ...(profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`])];
  const redis = modes.includes('processes') ? await RedisServer.start() : null;
  const runs: RunResult[] = [];
  let k = 0;
  try {
    for (const mode of modes) {
      for (const n of sizes) {
        for (let r = 0; r < rounds; r++) {
          const order: Path[] = (r % 2 === 0 ? ['migration', 'reconnect'] : ['reconnect', 'migration']).filter((p) => paths.includes(p)) as Path[];
          const pacingOrder = r % 2 === 0 ? pacings : [...pacings].reverse();
          const warmOrder = r % 2 === 0 ? warms : [...warms].reverse();
          for (const pacing of pacingOrder) for (const warm of warmOrder) for (const path of order) {
            const res = await runOnce({ mode, path, pacing, warm, clients: n, intervalMs, window, connectRate, redisUrl: redis?.url ?? '', redisPid: redis?.pid ?? 0, prefix: `b${k++}:`, nodeFlags, diag, ...(claimListeners !== undefined ? { claimListeners } : {}), ...(udpSockets !== undefined ? { udpSockets } : {}), ...(extraPorts !== undefined ? { extraPorts } : {}) }, note);
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
  const summary = summariseAll(runs, modes, sizes, pacings, warms);
  console.log(`\nNode OFFLINE with N UDP + N TCP clients streaming 2/4 every ${intervalMs} ms (window ${window}); medians of ${rounds} interleaved rounds`);
  console.log(`move = client's 'offline' event -> its first answer by the new node; all moved = OFFLINE call -> the last such answer;`);
  console.log(`from OFFLINE = the OFFLINE call -> each client's first answer by the new node (counts the wait for a paced notice)\n`);
  console.log(summaryTable(summary));
  const goals = goalLines(summary);
  console.log(`\n${goals.join('\n')}`);
  console.log(`\n${cpuLines(summary).join('\n')}`);
  console.log('\nPhase breakdown (migration runs, p50 / p99 ms of each step, median over rounds):');
  console.log(phaseTable(runs, modes, sizes, pacings, warms));
  const invalid = runs.filter((r) => !isValidRun(r));
  if (invalid.length > 0) console.log(`\n${invalid.length} run(s) left out: delivered below ${DELIVERY_TOLERANCE * 100}% of offered, or not every client connected`);
  const file = writeResult(arg('name') ?? 'migration', { quick, sizes, rounds, modes, pacings, warms, intervalMs, window, connectRate, summary, goals, runs });
  console.log(`wrote ${file}`);
  if (profDir !== undefined && fs.existsSync(profDir)) console.log(`node CPU profiles in ${profDir}`);
  const bad = summary.filter((s) => s.path === 'migration' && (s.lost > 0 || s.duplicated > 0));
  if (bad.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
