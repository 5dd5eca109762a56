/**
 * bench/migration's summary: medians over the valid runs per mode, size, pacing, transport and
 * path, the goal lines and the tables it prints. Shared by bench/migration.ts and
 * bench/migration-merge.ts (which re-summarises the runs of several result files).
 */
import { formatTable } from '../../src/cli/table';
import { TYPES, type Mode, type Path, type RunResult, type RunRow } from './migration-run';
import { fmt, median } from './stats';

/** A run is valid when the cluster answered what the clients offered (within 5%). */
export const DELIVERY_TOLERANCE = 0.95;

/** Valid: every client connected, and the cluster answered what the clients offered. */
export function isValidRun(r: RunResult): boolean {
  return r.deliveredReqPerSec >= DELIVERY_TOLERANCE * r.offeredReqPerSec && r.rows.every((x) => x.connected === x.clients);
}

export interface Summary {
  mode: Mode; clients: number; pacing: string; transport: string; path: Path; validRounds: number;
  /** Warm-up clients per transport (bench/lib/warm-up.ts); 0: fresh node processes. */
  warm: number;
  allMovedMs: number; moveP50Ms: number; moveP99Ms: number; fromOfflineP50Ms: number; fromOfflineP99Ms: number; gapP50Ms: number; gapP99Ms: number;
  lost: number; duplicated: number; kept: string; clientCpuMs: number; serverCpuMs: number; moveCpuMs: number;
  /** Medians of the runs' CPU per move less streaming, by process group (client, nodes, entry, redis). */
  moveCpuMsByGroup: Record<string, number>;
  /** Medians of each process's CPU from the OFFLINE call to all moved, per moved client (streaming included). */
  cpuMsPerMoveByProcess: Record<string, number>;
  /** Medians over the valid runs (both transports together). */
  nominalReqPerSec: number; offeredReqPerSec: number; deliveredReqPerSec: number;
}

const warmOf = (r: RunResult): number => r.spec.warm ?? 0;

export function summarise(runs: RunResult[], mode: Mode, n: number, pacing: string, warm = 0): Summary[] {
  const out: Summary[] = [];
  for (const t of TYPES) {
    for (const path of ['migration', 'reconnect'] as const) {
      const rs = runs.filter((r) => r.spec.mode === mode && r.spec.clients === n && r.spec.path === path && r.spec.pacing === pacing && warmOf(r) === warm);
      const valid = rs.filter(isValidRun);
      const rows = valid.map((r) => r.rows.find((x) => x.transport === t) as RunRow);
      const med = (f: (r: RunRow) => number): number => median(rows.map(f));
      const groups = [...new Set(valid.flatMap((r) => Object.keys(r.moveCpuMsPerMoveByGroup ?? {})))];
      const procs = [...new Set(valid.flatMap((r) => Object.keys(r.cpuMsByProcess)))];
      const perMove = (r: RunResult, p: string): number => (r.cpuMsByProcess[p] ?? Number.NaN) / (r.rows.reduce((a, x) => a + x.moved, 0) || Number.NaN);
      out.push({
        mode, clients: n, pacing, transport: t, path, validRounds: valid.length, warm,
        allMovedMs: med((r) => r.allMovedMs), moveP50Ms: med((r) => r.moveP50Ms), moveP99Ms: med((r) => r.moveP99Ms),
        fromOfflineP50Ms: med((r) => r.fromOfflineP50Ms), fromOfflineP99Ms: med((r) => r.fromOfflineP99Ms),
        gapP50Ms: med((r) => r.gapP50Ms), gapP99Ms: med((r) => r.gapP99Ms),
        lost: rows.reduce((a, r) => a + r.lost, 0), duplicated: rows.reduce((a, r) => a + r.duplicated, 0),
        kept: `${rows.reduce((a, r) => a + r.userDataKept, 0)}/${rows.reduce((a, r) => a + r.connected, 0)}`,
        clientCpuMs: median(valid.map((r) => r.clientCpuMsPerMove)), serverCpuMs: median(valid.map((r) => r.serverCpuMsPerMove)),
        moveCpuMs: median(valid.map((r) => r.moveCpuMsPerMoveByAnswers)),
        moveCpuMsByGroup: Object.fromEntries(groups.map((g) => [g, median(valid.map((r) => r.moveCpuMsPerMoveByGroup?.[g] ?? Number.NaN).filter(Number.isFinite))])),
        cpuMsPerMoveByProcess: Object.fromEntries(procs.map((p) => [p, median(valid.map((r) => perMove(r, p)).filter(Number.isFinite))])),
        nominalReqPerSec: median(valid.map((r) => r.nominalReqPerSec)), offeredReqPerSec: median(valid.map((r) => r.offeredReqPerSec)),
        deliveredReqPerSec: median(valid.map((r) => r.deliveredReqPerSec)),
      });
    }
  }
  return out;
}

/** Every (mode, size, pacing, warm-up) of the runs, summarised, in the order given. */
export function summariseAll(runs: RunResult[], modes: Mode[], sizes: number[], pacings: string[], warms: number[] = [0]): Summary[] {
  const out: Summary[] = [];
  for (const mode of modes) for (const n of sizes) for (const p of pacings) for (const w of warms) out.push(...summarise(runs, mode, n, p, w));
  return out;
}

/**
 * Per setting, CPU per move of migration against reconnect (all processes less streaming, and by
 * process from the OFFLINE call to all moved), both transports of a run together.
 */
export function cpuLines(summary: Summary[]): string[] {
  const out: string[] = [];
  for (const m of summary.filter((s) => s.path === 'migration' && s.transport === TYPES[0])) {
    const b = summary.find((s) => s.path === 'reconnect' && s.transport === m.transport && s.mode === m.mode && s.clients === m.clients && s.pacing === m.pacing && s.warm === m.warm);
    if (b === undefined || m.validRounds === 0 || b.validRounds === 0) continue;
    const procs = [...new Set([...Object.keys(m.cpuMsPerMoveByProcess), ...Object.keys(b.cpuMsPerMoveByProcess)])];
    const by = procs.map((p) => `${p} ${fmt(m.cpuMsPerMoveByProcess[p] ?? Number.NaN, 2)}/${fmt(b.cpuMsPerMoveByProcess[p] ?? Number.NaN, 2)}`).join(', ');
    out.push(`${m.mode} ${m.clients}+${m.clients} pacing ${m.pacing} warm ${m.warm}: CPU ms per move, migration/reconnect: all less streaming ${fmt(m.moveCpuMs, 2)}/${fmt(b.moveCpuMs, 2)} = ${fmt(m.moveCpuMs / b.moveCpuMs, 2)}x; by process, streaming included: ${by}`);
  }
  return out;
}

/**
 * Per mode, size, pacing and transport, the issue's goal: migration's all moved and move p99 at
 * most half the reconnect path's (at the same pacing, and against the better of its pacings:
 * reconnect's own best), nothing lost or duplicated, move p99 <= 250 ms at 500 + 500.
 */
export function goalLines(summary: Summary[]): string[] {
  const goals: string[] = [];
  for (const m of summary.filter((s) => s.path === 'migration')) {
    // Warm and cold runs are compared each with its own kind: "its best" is over the pacings.
    const same = (s: Summary): boolean => s.path === 'reconnect' && s.mode === m.mode && s.clients === m.clients && s.transport === m.transport && s.warm === m.warm && s.validRounds > 0;
    const b = summary.find((s) => same(s) && s.pacing === m.pacing);
    if (b === undefined || m.validRounds === 0) continue;
    const reconnects = summary.filter(same);
    const bestAll = Math.min(...reconnects.map((s) => s.allMovedMs));
    const bestP99 = Math.min(...reconnects.map((s) => s.moveP99Ms));
    const n = m.clients;
    const ok = m.allMovedMs <= b.allMovedMs / 2 && m.moveP99Ms <= b.moveP99Ms / 2 && m.lost === 0 && m.duplicated === 0 && (n !== 500 || m.moveP99Ms <= 250);
    goals.push(
      `${m.mode} ${n}+${n} pacing ${m.pacing}${m.warm > 0 ? ` warm ${m.warm}` : ''} ${m.transport}: all moved ${fmt(m.allMovedMs / b.allMovedMs, 2)}x of reconnect (${fmt(m.allMovedMs / bestAll, 2)}x its best), ` +
        `move p99 ${fmt(m.moveP99Ms, 0)} ms = ${fmt(m.moveP99Ms / b.moveP99Ms, 2)}x (${fmt(m.moveP99Ms / bestP99, 2)}x its best) -> goal ${ok ? 'met' : 'MISSED'}`,
    );
  }
  return goals;
}

export function summaryTable(summary: Summary[]): string {
  const table = summary.map((s) => [
    s.mode, `${s.clients}+${s.clients}`, s.pacing, s.warm, s.transport, s.path, s.validRounds, fmt(s.allMovedMs, 0), fmt(s.moveP50Ms, 0), fmt(s.moveP99Ms, 0),
    fmt(s.fromOfflineP50Ms, 0), fmt(s.fromOfflineP99Ms, 0), fmt(s.gapP50Ms, 0), fmt(s.gapP99Ms, 0), s.lost, s.duplicated, s.kept, fmt(s.clientCpuMs, 2), fmt(s.serverCpuMs, 2), fmt(s.moveCpuMs, 2),
    Object.entries(s.moveCpuMsByGroup).map(([g, v]) => `${g} ${fmt(v, 2)}`).join(', '),
    `${fmt(s.nominalReqPerSec, 0)}/${fmt(s.offeredReqPerSec, 0)}/${fmt(s.deliveredReqPerSec, 0)}`,
  ]);
  return formatTable(['mode', 'clients', 'pacing', 'warm', 'transport', 'path', 'valid rounds', 'all moved ms', 'move p50', 'move p99', 'from OFFLINE p50', 'from OFFLINE p99', 'gap p50', 'gap p99', 'lost', 'dup', 'data kept', 'client CPU ms/move', 'server CPU ms/move', 'move CPU ms (all, less streaming)', 'by group', 'req/s nominal/offered/delivered'], table);
}

/** Per-step p50 / p99 of the migration runs, medians over runs. */
export function phaseTable(runs: RunResult[], modes: Mode[], sizes: number[], pacings: string[], warms: number[] = [0]): string {
  const phaseRows: Array<Array<string | number>> = [];
  for (const mode of modes) {
    for (const n of sizes) {
      for (const p of pacings) {
        for (const w of warms) {
          const rs = runs.filter((r) => r.spec.mode === mode && r.spec.clients === n && r.spec.pacing === p && warmOf(r) === w && r.spec.path === 'migration');
          for (const t of TYPES) {
            for (const [i, step] of (rs[0]?.phasesByTransport[t] ?? []).entries()) {
              const med = (f: 'p50Ms' | 'p99Ms'): string => fmt(median(rs.map((r) => r.phasesByTransport[t][i]?.[f] ?? Number.NaN)), 1);
              phaseRows.push([mode, `${n}+${n}`, p, w, t, step.step, med('p50Ms'), med('p99Ms')]);
            }
          }
        }
      }
    }
  }
  return formatTable(['mode', 'clients', 'pacing', 'warm', 'transport', 'step', 'p50 ms', 'p99 ms'], phaseRows);
}
