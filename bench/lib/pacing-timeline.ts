/**
 * How an OFFLINE node's notice pacing behaved over a run (issue 12), from the phase events alone:
 * per time bin after the node's OFFLINE call, the notices it sent, the moves that completed (the
 * target's claim: what frees a pacing slot), the moves in flight at the bin's end (told, not yet
 * claimed: the window while sessions wait, less slots freed by their time cap) and the median
 * notice -> claim time of the moves completed in the bin.
 */
import type { MigrationPhaseEvent } from '../../src/server';
import { percentile } from './stats';

export interface PacingBin {
  /** The bin's end, ms after the OFFLINE call. */
  atMs: number;
  notices: number;
  claims: number;
  inFlight: number;
  /** Median notice -> claim (ms) of the moves claimed in this bin; NaN when none. */
  moveP50Ms: number;
}

export interface PacingTimeline {
  node: string;
  bins: PacingBin[];
}

/** The timeline of each node in `nodes` (the ones that went OFFLINE), in bins of `binMs`. */
export function pacingTimelines(events: readonly MigrationPhaseEvent[], nodes: readonly string[], binMs = 250): PacingTimeline[] {
  const offlineAt = new Map<string, number>();
  const notice = new Map<string, { node: string; at: number }>();
  const claim = new Map<string, number>();
  for (const e of events) {
    if (e.sid === null) {
      if (e.phase === 'offline-notice' && !offlineAt.has(e.nodeId)) offlineAt.set(e.nodeId, e.at);
    } else if (e.phase === 'notice-sent') {
      const seen = notice.get(e.sid);
      if (seen === undefined || e.at < seen.at) notice.set(e.sid, { node: e.nodeId, at: e.at });
    } else if (e.phase === 'claim-checked') {
      claim.set(e.sid, Math.min(e.at, claim.get(e.sid) ?? Infinity));
    }
  }
  return nodes.flatMap((node): PacingTimeline[] => {
    const t0 = offlineAt.get(node);
    if (t0 === undefined) return [];
    const told: number[] = [];
    const done: { at: number; ms: number }[] = [];
    for (const [sid, n] of notice) {
      if (n.node !== node) continue;
      told.push(n.at - t0);
      const c = claim.get(sid);
      if (c !== undefined) done.push({ at: c - t0, ms: c - n.at });
    }
    const end = Math.max(0, ...told, ...done.map((d) => d.at));
    const bins: PacingBin[] = [];
    for (let lo = 0; lo <= end; lo += binMs) {
      const hi = lo + binMs;
      const inBin = done.filter((d) => d.at >= lo && d.at < hi);
      bins.push({
        atMs: hi,
        notices: told.filter((t) => t >= lo && t < hi).length,
        claims: inBin.length,
        inFlight: told.filter((t) => t < hi).length - done.filter((d) => d.at < hi).length,
        moveP50Ms: inBin.length === 0 ? Number.NaN : percentile(inBin.map((d) => d.ms), 50),
      });
    }
    return [{ node, bins }];
  });
}

/** One line per bin, for the bench's log. */
export function timelineLines(t: PacingTimeline): string[] {
  return [
    `  pacing at ${t.node} (bins to ms after OFFLINE: notices told / moves claimed / in flight / claimed moves' p50 ms):`,
    ...t.bins.map((b) => `    ${String(b.atMs).padStart(5)}: ${String(b.notices).padStart(4)} / ${String(b.claims).padStart(4)} / ${String(b.inFlight).padStart(4)} / ${Number.isNaN(b.moveP50Ms) ? '-' : b.moveP50Ms.toFixed(0)}`),
  ];
}
