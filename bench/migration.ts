/**
 * bench/migration: live migration against the path users take without it, in one run.
 *
 * Cluster in a child process (2 TCP + 2 UDP nodes, long shutdown timeout). N UDP clients on udp-1
 * and N TCP clients on tcp-1 (the other node of each type is TAKEN while they connect, ONLINE
 * before the move), each streaming sequenced reliable requests (2/4, one every --interval ms, up to
 * --window in flight). Then udp-1 and tcp-1 go OFFLINE together.
 *
 * - migration: the bots of src/cli/bot.ts with migration 'auto'; the session and its user data move.
 * - reconnect-baseline (a fresh cluster, same shape): on 'offline' the client disconnects, asks the
 *   endpoint API for a new node and opens a new session there; its user data is lost (the node's
 *   counter restarts).
 *
 * Per transport and path: time from the OFFLINE call until every client is on a new node
 * ('migrated' / new session connected), per-client gap (last answer by the old node to the first
 * by the new one) p50/p99, lost (node's lastSeq and gaps vs sent, read with 2/5) and duplicated
 * (the node's dups); both must be 0 for migration.
 *
 * Default load: 2 x 1000 clients x 10 req/s = 20k requests/s into a TypeScript cluster on two
 * cores shared with the clients; --interval 50 doubles it and, on a busy machine, saturates the
 * cluster (endpoint API timeouts while connecting, UDP echo misses), so gaps then measure the queue.
 *
 *   node dist/bench/migration.js [--quick] [--clients 1000] [--interval 100] [--window 4] [--connect-rate 400]
 */
import * as fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import { runBot, type BotResult, type BotType } from '../src/cli/bot';
import { formatTable } from '../src/cli/table';
import { startClusterChild, type ClusterChild } from './lib/cluster-process';
import { runReconnectBot, type ReconnectBotResult } from './lib/reconnect-bot';
import { writeResult } from './lib/results';
import { fmt, percentile } from './lib/stats';

const quick = process.argv.includes('--quick');
function arg(name: string, full: number, small: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : quick ? small : full;
}

type Path = 'migration' | 'reconnect-baseline';
const TYPES: BotType[] = ['UDP', 'TCP'];
const OLD: Record<BotType, string> = { UDP: 'udp-1', TCP: 'tcp-1' };
const NEW: Record<BotType, string> = { UDP: 'udp-2', TCP: 'tcp-2' };
/** Streaming before and after the move, so both sides of every gap are in steady state. */
const STEADY_MS = 2000;
const AFTER_MS = 1000;
/** Safety net: a path that never completes is reported (moved < clients), not waited for. */
const MOVE_DEADLINE_MS = 60_000;

interface Row {
  transport: BotType; path: Path; clients: number; connected: number; onOldNode: number; moved: number;
  allMovedMs: number; gapP50Ms: number; gapP99Ms: number; gapMaxMs: number;
  /** Requests per second per client actually sent, mean (offered: 1000 / intervalMs). */
  reqPerSecPerClient: number;
  sent: number; lost: number; duplicated: number; userDataKept: number; errors: number; firstError: string | null;
}

type AnyResult = (BotResult | ReconnectBotResult) & { moved: boolean; gapMs: number | null; kept: boolean; connectedAt: number };

/** Soft fd limit of this process (Linux); Infinity where unknown. */
function fdLimit(): number {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(fs.readFileSync('/proc/self/limits', 'utf8'));
    return m === null || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Resolves when check() holds, re-checked on every poke(), or at the deadline. */
function waiter(check: () => boolean, deadlineMs: number): { poke(): void; done: Promise<boolean> } {
  let resolve: (ok: boolean) => void = () => undefined;
  const done = new Promise<boolean>((r) => {
    resolve = r;
  });
  const t = setTimeout(() => resolve(check()), deadlineMs);
  const poke = (): void => {
    if (check()) {
      clearTimeout(t);
      resolve(true);
    }
  };
  return { poke, done };
}

const mean = (xs: number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, x) => a + x, 0) / xs.length);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const note = (s: string): void => {
  process.stderr.write(`${s}\n`);
};

async function runPath(path: Path, n: number, intervalMs: number, window: number, connectRate: number): Promise<Row[]> {
  const cluster: ClusterChild = await startClusterChild({ tcpNodes: 2, udpNodes: 2, encryption: true, shutdownTimeoutMs: 300_000 });
  try {
    // Everyone lands on the node that will go offline.
    for (const t of TYPES) await cluster.setNodeState(NEW[t], 'taken');
    const stop = new AbortController();
    setMaxListeners(0, stop.signal);  // every bot waits on it between sends
    const total = 2 * n;
    let settled = 0;
    const moved: Record<BotType, number> = { UDP: 0, TCP: 0 };
    const movedAt: Record<BotType, number> = { UDP: 0, TCP: 0 };
    const failed: Record<BotType, number> = { UDP: 0, TCP: 0 };
    const connected: Record<BotType, number> = { UDP: 0, TCP: 0 };
    const allConnected = waiter(() => settled === total, MOVE_DEADLINE_MS);
    const allMoved = waiter(() => TYPES.every((t) => moved[t] + failed[t] >= connected[t]), MOVE_DEADLINE_MS);
    const onMoved = (t: BotType): void => {
      moved[t]++;
      movedAt[t] = Date.now();
      allMoved.poke();
    };
    const spacingMs = 1000 / connectRate;
    const bots = Array.from({ length: total }, async (_, i): Promise<AnyResult> => {
      const type = TYPES[i % 2] as BotType;  // interleaved: both transports see the same phases
      const uid = `mig-${path}-${type.toLowerCase()}-${i >> 1}`;
      let up = false;
      let connectedAt = 0;
      const onConnected = (): void => {
        up = true;
        connectedAt = Date.now();
        connected[type]++;
        settled++;
        allConnected.poke();
      };
      await sleep(Math.floor(i * spacingMs));
      if (path === 'migration') {
        const r = await runBot({
          entryUrl: cluster.entryUrl, uid, type, migration: 'auto', stop: stop.signal, intervalMs, window,
          pushCount: 0, pushIntervalMs: 0, manualDelayMs: () => 0, onConnected, onMigrated: () => onMoved(type),
        });
        return finish(r, r.migrations > 0, r.sent > 0 && r.lost === 0 && r.duplicated === 0 && r.error === null);
      }
      const r = await runReconnectBot({
        entryUrl: cluster.entryUrl, uid, type, stop: stop.signal, intervalMs, window, onConnected, onReconnected: () => onMoved(type),
      });
      return finish(r, r.reconnected, r.userDataKept);

      function finish<R extends BotResult | ReconnectBotResult>(r: R, didMove: boolean, kept: boolean): AnyResult {
        if (!up) {
          settled++;
          allConnected.poke();
        }
        if (!didMove) {
          failed[type]++;  // ended without moving (error): do not wait for it
          allMoved.poke();
        }
        return { ...r, moved: didMove, kept, connectedAt };
      }
    });

    await allConnected.done;
    const before = await cluster.nodes();
    const onOld = (t: BotType): number => before.find((x) => x.id === OLD[t])?.users ?? 0;
    note(`${path}: ${connected.UDP} UDP on ${OLD.UDP} (${onOld('UDP')} users), ${connected.TCP} TCP on ${OLD.TCP} (${onOld('TCP')} users)`);
    for (const t of TYPES) await cluster.setNodeState(NEW[t], 'online');
    await sleep(STEADY_MS);
    const t0 = Date.now();
    await Promise.all(TYPES.map((t) => cluster.setNodeState(OLD[t], 'offline')));
    const complete = await allMoved.done;
    note(`${path}: moved UDP ${moved.UDP}/${connected.UDP}, TCP ${moved.TCP}/${connected.TCP}${complete ? '' : ' (deadline reached)'}`);
    await sleep(AFTER_MS);
    stop.abort();
    const stoppedAt = Date.now();
    const results = await Promise.all(bots);

    return TYPES.map((t): Row => {
      const rs = results.filter((r) => r.type === t);
      const gaps = rs.map((r) => r.gapMs).filter((g): g is number => g !== null);
      gapSamples[`${t.toLowerCase()}-${path}`] = gaps;
      const errs = rs.filter((r) => r.error !== null);
      return {
        transport: t, path, clients: n, connected: connected[t], onOldNode: onOld(t), moved: moved[t],
        allMovedMs: moved[t] > 0 ? movedAt[t] - t0 : Number.NaN,
        gapP50Ms: percentile(gaps, 50), gapP99Ms: percentile(gaps, 99), gapMaxMs: gaps.length > 0 ? Math.max(...gaps) : Number.NaN,
        reqPerSecPerClient: mean(rs.filter((r) => r.connected).map((r) => (1000 * r.sent) / Math.max(1, stoppedAt - r.connectedAt))),
        sent: rs.reduce((a, r) => a + r.sent, 0),
        lost: rs.reduce((a, r) => a + r.lost, 0),
        duplicated: rs.reduce((a, r) => a + r.duplicated, 0),
        userDataKept: rs.filter((r) => r.kept).length,
        errors: errs.length,
        firstError: errs[0]?.error ?? null,
      };
    });
  } finally {
    await cluster.stop();
  }
}

const gapSamples: Record<string, number[]> = {};

async function main(): Promise<void> {
  const n = Math.floor(arg('clients', 1000, 200));
  const intervalMs = arg('interval', 100, 100);
  const window = Math.floor(arg('window', 4, 4));
  const connectRate = arg('connect-rate', 400, 400);
  // Sockets here: one per client, two for a UDP client while it migrates, old + new for a
  // reconnecting one; the child holds the TCP connections and the nodes' sockets.
  const needFds = 4 * n + 256;
  const limit = fdLimit();
  if (limit < needFds) {
    note(`WARNING: open-file limit ${limit} is below the ~${needFds} sockets this run needs; raise it (ulimit -n ${needFds}) or use --clients ${Math.floor((limit - 256) / 4)}`);
  }
  const rows: Row[] = [];
  for (const path of ['migration', 'reconnect-baseline'] as const) {
    rows.push(...(await runPath(path, n, intervalMs, window, connectRate)));
  }

  const table: Array<Array<string | number>> = [];
  for (const t of TYPES) {
    const m = rows.find((r) => r.transport === t && r.path === 'migration') as Row;
    const b = rows.find((r) => r.transport === t && r.path === 'reconnect-baseline') as Row;
    for (const r of [m, b]) {
      table.push([
        t, r.path, fmt(r.reqPerSecPerClient, 1), `${r.moved}/${r.connected}`, fmt(r.allMovedMs, 0), fmt(r.gapP50Ms, 0), fmt(r.gapP99Ms, 0),
        r.lost, r.duplicated, `${r.userDataKept}/${r.connected}`, r.errors,
      ]);
    }
    const ratio = (x: number, y: number): string => (Number.isFinite(x / y) ? `${(x / y).toFixed(2)}x` : '-');
    table.push([t, 'baseline/migration', '', '', ratio(b.allMovedMs, m.allMovedMs), ratio(b.gapP50Ms, m.gapP50Ms), ratio(b.gapP99Ms, m.gapP99Ms), '', '', '', '']);
  }
  console.log(`\nNode offline with ${n} UDP + ${n} TCP clients streaming 2/4 every ${intervalMs} ms (${window} in flight at most; offered ${fmt(1000 / intervalMs, 1)} req/s/client)\n`);
  console.log(formatTable(['transport', 'path', 'req/s/client', 'moved', 'all moved ms', 'gap p50 ms', 'gap p99 ms', 'lost', 'dup', 'user data kept', 'errors'], table));
  for (const r of rows) if (r.firstError !== null) console.log(`${r.transport} ${r.path}: ${r.errors} errors, first: ${r.firstError}`);
  const bad = rows.filter((r) => r.path === 'migration' && (r.lost > 0 || r.duplicated > 0 || r.moved < r.connected || r.connected < n));
  console.log(bad.length === 0 ? '\nmigration: every client moved, nothing lost or duplicated' : `\nmigration shortfall: ${bad.map((r) => r.transport).join(', ')}`);
  const file = writeResult('migration', { quick, clients: n, intervalMs, window, connectRate, runs: rows, gapsMs: gapSamples });
  console.log(`wrote ${file}`);
  if (bad.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
