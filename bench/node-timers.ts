/**
 * bench/node-timers: the UDP node's deadline bookkeeping, one setTimeout per session (the node's
 * `schedule` before, kept here as the reference) against one heap per node (src/server/node-timers),
 * in one process, interleaved rounds, CPU time. `--sessions` sessions each get re-armed in turn as
 * an RUDP session is after every datagram (most re-arms move the deadline later: an RTO restarted by
 * an ACK; some earlier: an ACK pace or a probe), then everything armed is left to fire, then a full
 * GC collects what the run left (timer objects, closures). The reference fires each session's
 * earlier timer and stops there (the node then re-armed it: not counted, so it is favoured).
 *
 *   node --expose-gc dist/bench/node-timers.js [--sessions 10000] [--rearms 200000] [--rounds 5]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { NodeTimers, NOT_ARMED, type Timed } from '../src/server/node-timers';
import { stringArg } from './lib/args';

const arg = (name: string, dflt: number): number => Number(stringArg(name) ?? dflt);
const SESSIONS = arg('sessions', 10_000);
const REARMS = arg('rearms', 200_000);
const ROUNDS = arg('rounds', 5);

interface Old {
  timer: NodeJS.Timeout | null;
  timerAt: number;
}
type Rec = Old & Timed;

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** The same deadlines for both: later (RTO restart) 80 %, earlier (pace, probe) 20 %. */
function deadlines(n: number): Float64Array {
  const d = new Float64Array(n);
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < n; i++) d[i] = rnd() < 0.8 ? 60 + rnd() * 140 : 4 + rnd() * 20;
  return d;
}
const offsets = deadlines(REARMS);

const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);

async function run(kind: 'per-session' | 'heap'): Promise<{ armUs: number; fireUs: number; gcUs: number; fired: number }> {
  let fired = 0;
  gc();
  const recs: Rec[] = Array.from({ length: SESSIONS }, () => ({ timer: null, timerAt: 0, timerSlot: NOT_ARMED }));
  const clock = {
    now: () => performance.now(),
    setTimer(fn: () => void, ms: number) {
      const t = setTimeout(fn, ms);
      return () => clearTimeout(t);
    },
  };
  const heap = new NodeTimers<Rec>(clock, () => void fired++);
  // The node's schedule() before: keep an earlier timer, else clear and arm one for this session.
  const old = (e: Rec, due: number): void => {
    if (e.timer !== null && e.timerAt <= due) return;
    if (e.timer !== null) clearTimeout(e.timer);
    e.timerAt = due;
    e.timer = setTimeout(() => {
      e.timer = null;
      fired++;
    }, Math.max(0, Math.ceil(due - performance.now())));
  };
  const t0 = cpuUs();
  for (let i = 0; i < REARMS; i++) {
    const e = recs[i % SESSIONS] as Rec;
    const due = performance.now() + (offsets[i] as number);
    if (kind === 'heap') heap.arm(e, due);
    else old(e, due);
  }
  const t1 = cpuUs();
  // Everything armed fires within 200 ms.
  await new Promise((r) => setTimeout(r, 260));
  const t2 = cpuUs();
  recs.length = 0;
  gc();
  return { armUs: t1 - t0, fireUs: t2 - t1, gcUs: cpuUs() - t2, fired };
}

async function main(): Promise<void> {
  const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');
  const res: Record<string, { arm: number[]; fire: number[]; gc: number[]; fired: number[] }> = {
    'per-session': { arm: [], fire: [], gc: [], fired: [] },
    heap: { arm: [], fire: [], gc: [], fired: [] },
  };
  await run('per-session');
  await run('heap');
  for (let r = 0; r < ROUNDS; r++) {
    for (const k of (r % 2 === 0 ? ['per-session', 'heap'] : ['heap', 'per-session']) as ('per-session' | 'heap')[]) {
      const x = await run(k);
      const s = res[k] as { arm: number[]; fire: number[]; gc: number[]; fired: number[] };
      s.arm.push((x.armUs * 1000) / REARMS);
      s.fire.push(x.fireUs / 1000);
      s.gc.push(x.gcUs / 1000);
      s.fired.push(x.fired);
    }
  }
  const med = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)] as number;
  const tot = (s: { arm: number[]; fire: number[]; gc: number[] }): number => (REARMS * med(s.arm)) / 1e6 + med(s.fire) + med(s.gc);
  console.log(`${SESSIONS} sessions, ${REARMS} re-arms (80 % later, 20 % earlier), ${ROUNDS} rounds interleaved, medians; load ${load0} -> ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (const [k, s] of Object.entries(res)) {
    console.log(`  ${k.padEnd(12)} CPU per re-arm ${med(s.arm).toFixed(0).padStart(5)} ns   firing ${med(s.fire).toFixed(1).padStart(6)} ms   GC after ${med(s.gc).toFixed(1).padStart(6)} ms   total ${tot(s).toFixed(1).padStart(6)} ms   callbacks ${med(s.fired)}`);
  }
  const p = res['per-session'] as { arm: number[]; fire: number[]; gc: number[] };
  const h = res.heap as { arm: number[]; fire: number[]; gc: number[] };
  console.log(`  ratio heap / per-session: re-arm ${(med(h.arm) / med(p.arm)).toFixed(2)}, firing ${(med(h.fire) / med(p.fire)).toFixed(2)}, total ${(tot(h) / tot(p)).toFixed(2)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
