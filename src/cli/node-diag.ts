/**
 * `diarkis-node node --log-diag <file>` (benchmark instrumentation, issue 12): what a node's own
 * process saw, to tell a slow move's causes apart from outside. At exit it writes one JSON object:
 * the event-loop stalls (every check of a 10 ms timer that came more than `LAG_MIN_MS` late, with
 * its epoch time, comparable with the migration phases, and the CPU the process used meanwhile:
 * about the stall's length when its own work held the loop, near 0 when it was not running), its
 * GC pauses, and the process's reliable-UDP sender and UDP node counters.
 */
import { writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { senderCounters } from '../protocol/rudp/reliable';
import { nodeTimerCounters } from '../server/udp-node';

const TICK_MS = 10;
/** A turn late by less than this is not a stall worth a record (timer slack, a busy turn). */
export const LAG_MIN_MS = 5;

export interface NodeDiag {
  /** [epoch ms at the late check, ms late, CPU ms the process used since the previous check]. */
  stalls: Array<[number, number, number]>;
  /** GC pauses of at least LAG_MIN_MS: [epoch ms at their end, ms]. */
  gc: Array<[number, number]>;
  sender: Record<string, number>;
  /** The UDP node's datagram and timer counters (SYN lookups: a SYN for a session not yet adopted). */
  node: Record<string, number>;
}

export interface LagSampler {
  stop(): void;
  result(): NodeDiag;
}

export interface LagSamplerDeps {
  /** ms, epoch-comparable. */
  now(): number;
  /** The process's CPU so far, ms. */
  cpuMs(): number;
  every(fn: () => void, ms: number): unknown;
  cancel(t: unknown): void;
}

const realDeps: LagSamplerDeps = {
  now: () => performance.timeOrigin + performance.now(),
  cpuMs: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
  every: (fn, ms) => setInterval(fn, ms).unref(),
  cancel: (t) => clearInterval(t as NodeJS.Timeout),
};

/** Starts sampling the loop's lateness (and, on the real clock, GC pauses). */
export function startLagSampler(deps: LagSamplerDeps = realDeps): LagSampler {
  const stalls: Array<[number, number, number]> = [];
  const gc: Array<[number, number]> = [];
  let last = deps.now();
  let lastCpu = deps.cpuMs();
  const t = deps.every(() => {
    const at = deps.now();
    const cpu = deps.cpuMs();
    const late = at - last - TICK_MS;
    if (late >= LAG_MIN_MS) stalls.push([at, late, cpu - lastCpu]);
    last = at;
    lastCpu = cpu;
  }, TICK_MS);
  let obs: PerformanceObserver | null = null;
  if (deps === realDeps) {
    obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (e.duration >= LAG_MIN_MS) gc.push([performance.timeOrigin + e.startTime + e.duration, e.duration]);
    });
    obs.observe({ entryTypes: ['gc'] });
  }
  return {
    stop: () => {
      deps.cancel(t);
      obs?.disconnect();
    },
    result: () => ({ stalls: [...stalls], gc: [...gc], sender: { ...senderCounters }, node: { ...nodeTimerCounters } }),
  };
}

export function writeDiag(file: string, d: NodeDiag): void {
  writeFileSync(file, JSON.stringify(d));
}
