/**
 * Where the slowest moves' time goes (bench/migration --diag, issue 12): each migrated client's
 * move cut into its steps from the client's clock and both nodes' phase timestamps (epoch ms,
 * comparable between processes on one machine), for the slowest share of the moves against all;
 * with the reliable-UDP resends the client made during its move and the longest event-loop stall
 * of each process (client, old node, target) inside the move.
 */
import type { NodeDiag } from '../../src/cli/node-diag';
import type { PhaseLog } from '../../src/server';
import { fmt, median } from './stats';
import type { MoveTimes } from './stream-bot';

/** The steps of a move in order; their durations add up to the move time (client offline event -> first answer). */
export const TAIL_STEPS = [
  'client offline event → migrate-request',
  'migrate-request → handoff-stored',
  'handoff-stored → answer-sent',
  'answer-sent → target-accepted',
  'target-accepted → claim-checked',
  'claim-checked → client migrated',
  'client migrated → first answer',
] as const;

export interface MoveBreakdown {
  sid: string;
  moveMs: number;
  /** Per TAIL_STEPS (NaN where a phase is missing). */
  steps: number[];
  /** The notice's way to the client (not in the move time). */
  noticeToOfflineMs: number;
  /** When the notice left, after the OFFLINE call (pacing: late notices go to a busier cluster?). */
  noticeAfterOfflineMs: number;
  retransmits: number;
  /** The longest loop stall (ms) of each process inside the move. */
  stallMs: { client: number; old: number; target: number };
}

export interface TailReport {
  share: number;
  moves: number;
  tailMoves: number;
  /** Median of each step, over the tail and over all moves. */
  tailStepsMs: number[];
  allStepsMs: number[];
  /** Moves with at least one resend during the move: in the tail, in all. */
  tailWithResends: number;
  allWithResends: number;
  /** The tail's moves whose longest step took over half the move, by step name. */
  tailDominantStep: Record<string, number>;
  tailMedianStallMs: { client: number; old: number; target: number };
  /** Median time from the OFFLINE call to the notice, tail and all. */
  noticeAfterOfflineMs: { tail: number; all: number };
  slowest: MoveBreakdown[];
}

/** The longest stall overlapping [a, b] (stalls are [end epoch ms, length ms, ...]). */
export function longestStall(stalls: ReadonlyArray<readonly [number, number, ...number[]]>, a: number, b: number): number {
  let m = 0;
  for (const [end, len] of stalls) if (end - len < b && end > a) m = Math.max(m, len);
  return m;
}

type Bot = MoveTimes & { retransmitsAtOffline?: number; retransmitsAtMoved?: number };

/** `oldNode` / `target`: the ids whose stalls count (the bench moves one node's clients to one target). */
export function moveBreakdowns(log: PhaseLog, bots: Bot[], diags: Record<string, NodeDiag>, clientStalls: NodeDiag['stalls'], oldNode: string, target: string, origin = performance.timeOrigin): MoveBreakdown[] {
  const out: MoveBreakdown[] = [];
  for (const b of bots) {
    if (b.sid === undefined || b.offlineAt === null || b.movedAt === null || b.migratedEpochMs === undefined) continue;
    const phases = log.phasesOf(b.sid);
    const at = new Map(phases.map((p) => [p.phase, p.at]));
    const off = origin + b.offlineAt;
    const moved = origin + b.movedAt;
    const chain = [off, at.get('migrate-request'), at.get('handoff-stored'), at.get('answer-sent'), at.get('target-accepted'), at.get('claim-checked'), b.migratedEpochMs, moved];
    const steps = TAIL_STEPS.map((_, i) => (chain[i + 1] ?? Number.NaN) - (chain[i] ?? Number.NaN));
    const stalls = (id: string): NodeDiag['stalls'] => diags[id]?.stalls ?? [];
    const answered = at.get('answer-sent') ?? moved;
    out.push({
      sid: b.sid, moveMs: b.movedAt - b.offlineAt, steps,
      noticeToOfflineMs: off - (at.get('notice-sent') ?? Number.NaN),
      noticeAfterOfflineMs: (at.get('notice-sent') ?? Number.NaN) - (at.get('offline-notice') ?? Number.NaN),
      retransmits: (b.retransmitsAtMoved ?? Number.NaN) - (b.retransmitsAtOffline ?? Number.NaN),
      stallMs: { client: longestStall(clientStalls, off, moved), old: longestStall(stalls(oldNode), off, answered), target: longestStall(stalls(target), answered, moved) },
    });
  }
  return out;
}

export function tailReport(moves: MoveBreakdown[], share = 0.02, keep = 5): TailReport {
  const sorted = [...moves].sort((a, b) => b.moveMs - a.moveMs);
  const tail = sorted.slice(0, Math.max(1, Math.ceil(share * sorted.length)));
  const stepMed = (ms: MoveBreakdown[]): number[] => TAIL_STEPS.map((_, i) => median(ms.map((m) => m.steps[i] ?? Number.NaN).filter(Number.isFinite)));
  const dominant: Record<string, number> = {};
  for (const m of tail) {
    const i = m.steps.reduce((best, v, k) => ((v ?? 0) > (m.steps[best] ?? 0) ? k : best), 0);
    const name = (m.steps[i] ?? 0) > m.moveMs / 2 ? (TAIL_STEPS[i] as string) : 'none over half';
    dominant[name] = (dominant[name] ?? 0) + 1;
  }
  const resends = (ms: MoveBreakdown[]): number => ms.filter((m) => m.retransmits > 0).length;
  return {
    share, moves: moves.length, tailMoves: moves.length === 0 ? 0 : tail.length,
    tailStepsMs: stepMed(tail), allStepsMs: stepMed(moves),
    tailWithResends: resends(tail), allWithResends: resends(moves),
    tailDominantStep: dominant,
    tailMedianStallMs: { client: median(tail.map((m) => m.stallMs.client)), old: median(tail.map((m) => m.stallMs.old)), target: median(tail.map((m) => m.stallMs.target)) },
    noticeAfterOfflineMs: { tail: median(tail.map((m) => m.noticeAfterOfflineMs)), all: median(moves.map((m) => m.noticeAfterOfflineMs)) },
    slowest: sorted.slice(0, keep),
  };
}

export function tailLines(label: string, r: TailReport): string[] {
  if (r.moves === 0) return [];
  const out = [`  ${label}: slowest ${r.tailMoves} of ${r.moves} moves (${fmt(r.share * 100, 0)} %), step medians tail / all (ms):`];
  TAIL_STEPS.forEach((s, i) => out.push(`    ${s}: ${fmt(r.tailStepsMs[i] ?? Number.NaN, 1)} / ${fmt(r.allStepsMs[i] ?? Number.NaN, 1)}`));
  out.push(`    with a client resend during the move: ${r.tailWithResends}/${r.tailMoves} of the tail, ${r.allWithResends}/${r.moves} of all; step over half the move: ${Object.entries(r.tailDominantStep).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(`    notice sent after the OFFLINE call, median: tail ${fmt(r.noticeAfterOfflineMs.tail, 0)} ms, all ${fmt(r.noticeAfterOfflineMs.all, 0)} ms`);
  out.push(`    longest loop stall inside a tail move, median: client ${fmt(r.tailMedianStallMs.client, 0)} ms, old node ${fmt(r.tailMedianStallMs.old, 0)}, target ${fmt(r.tailMedianStallMs.target, 0)}`);
  for (const m of r.slowest) out.push(`    ${fmt(m.moveMs, 0)} ms: steps ${m.steps.map((x) => fmt(x, 0)).join(' / ')}; resends ${m.retransmits}; stalls client ${fmt(m.stallMs.client, 0)} old ${fmt(m.stallMs.old, 0)} target ${fmt(m.stallMs.target, 0)}; notice -> offline event ${fmt(m.noticeToOfflineMs, 0)}`);
  return out;
}
