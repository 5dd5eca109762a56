/**
 * Chaos run (issue 11): N native clients stream sequenced reliable requests on a Redis-backed
 * cluster of node processes while nodes are SIGTERM'd and kill -9'd at random and restarted.
 * Every message must be delivered exactly once, in order, or handed back to the application;
 * after a SIGTERM (a target is always available: the struck node is replaced) lost and handed
 * back must both be 0. After a SIGKILL the node's state is gone: what was in flight is reported
 * as unknowable, apart.
 *
 *   node dist/bench/chaos/run.js [--clients 200] [--nodes 4] [--duration 60] [--strike-every 4000]
 *                                [--type TCP|UDP] [--interval 50] [--window 4] [--seed 1]
 * Exit code 1 when an expectation fails. Writes bench/results/chaos.json.
 */
import { seededRandom } from '../../test/helpers/udp-proxy';
import { writeResult } from '../lib/results';
import { runChaosClient } from './chaos-client';
import { ChaosCluster } from './cluster';
import { emptyTotals, sum, type EndCause, type LedgerTotals } from './ledger';

interface Args {
  clients: number;
  nodes: number;
  duration: number;
  strikeEvery: number;
  type: 'TCP' | 'UDP';
  interval: number;
  window: number;
  seed: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { clients: 200, nodes: 4, duration: 60, strikeEvery: 4000, type: 'TCP', interval: 50, window: 4, seed: 1 };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase()) as keyof Args;
    const v = argv[i + 1];
    if (!(k in a) || v === undefined) throw new Error(`unknown or incomplete option ${argv[i]}`);
    if (k === 'type') {
      if (v !== 'TCP' && v !== 'UDP') throw new Error('--type is TCP or UDP');
      a.type = v;
    } else {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new Error(`${argv[i]} needs a positive number`);
      a[k] = n;
    }
  }
  if (a.nodes < 2) throw new Error('--nodes must be at least 2 (a migration needs a target)');
  return a;
}

function report(t: LedgerTotals): string[] {
  const rows = (Object.keys(t.byCause) as EndCause[]).map((c) => {
    const o = t.byCause[c];
    return `${c.padEnd(9)} ${String(o.sessions).padStart(8)} ${String(o.delivered).padStart(10)} ${String(o.handedBack).padStart(12)} ${String(o.lost).padStart(6)} ${String(o.inFlightAtKill).padStart(16)}`;
  });
  return [
    'session end  sessions  delivered  handed back   lost  in flight @ kill',
    ...rows,
    `total     ${String(sum(t, 'sessions')).padStart(8)} ${String(sum(t, 'delivered')).padStart(10)} ${String(sum(t, 'handedBack')).padStart(12)} ${String(sum(t, 'lost')).padStart(6)} ${String(sum(t, 'inFlightAtKill')).padStart(16)}`,
    `migrations completed ${t.migrations}, failed ${t.migrationFailures}; answers out of order or doubled: ${t.wrongAnswers}; node-side gaps ${t.nodeGaps}, duplicates ${t.nodeDups}, sessions whose node count differs: ${t.nodeMismatches}`,
    `requests rejected, by the code the application got: ${JSON.stringify(t.rejections)}`,
  ];
}

/** What must hold; each failure is one line. */
export function violations(t: LedgerTotals, strikes: { signal: string }[]): string[] {
  const v: string[] = [];
  const term = t.byCause.sigterm;
  if (term.lost > 0 || term.handedBack > 0) v.push(`SIGTERM with a target available: lost ${term.lost}, handed back ${term.handedBack} (both must be 0)`);
  for (const c of ['run-end', 'other', 'sigkill'] as const) if (t.byCause[c].lost > 0) v.push(`${c}: ${t.byCause[c].lost} lost`);
  if (t.wrongAnswers > 0) v.push(`${t.wrongAnswers} answers out of order or doubled`);
  if (t.nodeGaps + t.nodeDups + t.nodeMismatches > 0) v.push(`node side: gaps ${t.nodeGaps}, duplicates ${t.nodeDups}, mismatches ${t.nodeMismatches}`);
  if (sum(t, 'delivered') === 0) v.push('nothing was delivered');
  if (!strikes.some((s) => s.signal === 'SIGTERM') || !strikes.some((s) => s.signal === 'SIGKILL')) v.push('the run had no strike of each kind');
  return v;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const random = seededRandom(a.seed);
  console.error(`chaos: ${a.clients} ${a.type} clients, ${a.nodes} node processes on Redis, ${a.duration} s, a strike every ~${a.strikeEvery} ms (shared 2-core machine)`);
  const cluster = await ChaosCluster.start({ nodes: a.nodes, type: a.type, nodeTtlMs: 1000, shutdownTimeoutMs: 15_000 });
  const totals = emptyTotals();
  const where = new Map<string, number>();
  const stop = new AbortController();
  const clients: Promise<void>[] = [];
  try {
    for (let i = 0; i < a.clients; i++) {
      clients.push(runChaosClient({
        entryUrl: cluster.entryUrl, uid: `chaos-${i}`, type: a.type, intervalMs: a.interval, window: a.window,
        stop: stop.signal, causeOf: (port, since) => cluster.causeOf(port, since), totals, where,
      }));
      if (i % 20 === 19) await new Promise((r) => setTimeout(r, 50)); // spread the connects
    }
    const end = Date.now() + a.duration * 1000;
    // No strike in the last third (at most 20 s): a UDP client notices a SIGKILLed node only by
    // its echo timeout (3 x 5 s by default), and should get to start over before the run ends.
    const lastStrike = end - Math.min(20_000, (a.duration * 1000) / 3);
    // The first two strikes are one of each kind, then random: any run with two has both.
    for (let k = 0; Date.now() + a.strikeEvery / 2 < lastStrike; k++) {
      await new Promise((r) => setTimeout(r, a.strikeEvery * (0.5 + random())));
      if (Date.now() >= lastStrike) break;
      const signal = k === 0 ? 'SIGTERM' : k === 1 ? 'SIGKILL' : random() < 0.5 ? 'SIGTERM' : 'SIGKILL';
      const s = await cluster.strike(signal, random, [...where.values()]);
      console.error(`chaos: ${s.signal} ${s.id}: exited after ${s.exitMs} ms (code ${String(s.exitCode)}), replaced after ${s.replacedMs} ms`);
    }
    const rest = end - Date.now();
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  } finally {
    stop.abort();
    await Promise.all(clients);
    await cluster.stop();
  }
  const lines = report(totals);
  for (const l of lines) console.log(l);
  const v = violations(totals, cluster.strikes);
  writeResult('chaos', { args: a, totals, strikes: cluster.strikes, violations: v });
  if (v.length > 0) {
    for (const l of v) console.log(`FAIL: ${l}`);
    process.exitCode = 1;
  } else {
    console.log('OK: every message delivered exactly once in order or handed back; SIGTERM lost and handed back 0');
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
