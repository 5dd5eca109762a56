/**
 * Per-phase timestamps of a live migration (issue 12), emitted as 'migration-phase' events so a
 * benchmark or an operator can see where a move's time goes, on the old node and the target,
 * across processes (`at` is epoch milliseconds with sub-millisecond precision).
 */
import type { EmitFn } from './types';

/**
 * In the order a migration passes them. 'offline-notice' is per node (sid null): the OFFLINE call;
 * 'notice-sent' is when this session's notice went out (later than the call when notices are paced).
 */
export const MIGRATION_PHASES = [
  'offline-notice',
  'notice-sent',
  'migrate-request',
  'handoff-stored',
  'answer-sent',
  'old-link-closed',
  'target-accepted',
  'claim-checked',
  'first-answer',
] as const;

export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

export interface MigrationPhaseEvent {
  nodeId: string;
  sid: string | null;
  phase: MigrationPhase;
  /** Epoch ms (performance.timeOrigin + performance.now()): comparable between processes. */
  at: number;
}

export const phaseNow = (): number => performance.timeOrigin + performance.now();

export function emitPhase(emit: EmitFn, nodeId: string, sid: string | null, phase: MigrationPhase, at = phaseNow()): void {
  emit('migration-phase', { nodeId, sid, phase, at });
}

/** Median time from one phase to the next over every sid that has both, from the node's offline notice. */
export interface PhaseBreakdown {
  /** e.g. 'offline-notice → migrate-request'. */
  step: string;
  samples: number;
  p50Ms: number;
  p99Ms: number;
}

/** The path of a move, then the old link's close (which runs beside the target's steps). */
const BREAKDOWN_STEPS: ReadonlyArray<readonly [MigrationPhase, MigrationPhase]> = [
  ['offline-notice', 'notice-sent'],
  ['notice-sent', 'migrate-request'],
  ['migrate-request', 'handoff-stored'],
  ['handoff-stored', 'answer-sent'],
  ['answer-sent', 'target-accepted'],
  ['target-accepted', 'claim-checked'],
  ['claim-checked', 'first-answer'],
  ['notice-sent', 'first-answer'],
  ['offline-notice', 'first-answer'],
  ['answer-sent', 'old-link-closed'],
];

/** Collects phase events (from any number of processes) and summarises them per step. */
export class PhaseLog {
  private readonly bySid = new Map<string, Map<MigrationPhase, number>>();
  private readonly notices = new Map<string, number>();
  /** The node each migrating sid left (first 'migrate-request'). */
  private readonly fromNode = new Map<string, string>();

  add(e: MigrationPhaseEvent): void {
    if (e.sid === null) {
      if (e.phase === 'offline-notice' && !this.notices.has(e.nodeId)) this.notices.set(e.nodeId, e.at);
      return;
    }
    let m = this.bySid.get(e.sid);
    if (m === undefined) this.bySid.set(e.sid, (m = new Map()));
    // The earliest of each phase, whatever order the processes' logs are read in (a target that
    // goes OFFLINE itself later sends its own notice to the same session).
    const seen = m.get(e.phase);
    if (seen !== undefined && seen <= e.at) return;
    m.set(e.phase, e.at);
    if (e.phase === 'migrate-request') this.fromNode.set(e.sid, e.nodeId);
  }

  /** Phases of one sid in time order, the old node's offline notice first when known. */
  phasesOf(sid: string): { phase: MigrationPhase; at: number }[] {
    const m = this.bySid.get(sid);
    if (m === undefined) return [];
    const out = [...m].map(([phase, at]) => ({ phase, at }));
    const from = this.fromNode.get(sid);
    const notice = from === undefined ? undefined : this.notices.get(from);
    if (notice !== undefined) out.push({ phase: 'offline-notice', at: notice });
    return out.sort((a, b) => a.at - b.at);
  }

  get sids(): string[] {
    return [...this.bySid.keys()];
  }

  /** Per step over every session, or only those that left node `from`. */
  breakdown(from?: string): PhaseBreakdown[] {
    return BREAKDOWN_STEPS.map(([a, b]) => {
      const d: number[] = [];
      for (const sid of this.bySid.keys()) {
        if (from !== undefined && this.fromNode.get(sid) !== from) continue;
        const at = new Map(this.phasesOf(sid).map((p) => [p.phase, p.at]));
        const x = at.get(a);
        const y = at.get(b);
        if (x !== undefined && y !== undefined) d.push(y - x);
      }
      d.sort((p, q) => p - q);
      const pick = (q: number): number => (d.length === 0 ? Number.NaN : (d[Math.min(d.length - 1, Math.ceil((q / 100) * d.length) - 1)] as number));
      return { step: `${a} → ${b}`, samples: d.length, p50Ms: pick(50), p99Ms: pick(99) };
    });
  }
}
