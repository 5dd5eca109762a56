/**
 * The bots' report: per transport and in total, what was sent, answered, lost and duplicated,
 * who migrated and how long the reliable stream paused across the migration. `ok` is the exit
 * status of `demo` and `bots`: nothing lost, nothing duplicated, every notified bot migrated.
 */
import type { BotResult, BotType } from './bot';
import type { RoomRow } from './room-bots';
import { formatTable } from './table';

export interface ReportRow {
  clients: number;
  connected: number;
  /** Bots whose node announced it was going offline. */
  offline: number;
  migrated: number;
  gapP50Ms: number | null;
  gapP99Ms: number | null;
  tookP50Ms: number | null;
  sent: number;
  answered: number;
  lost: number;
  duplicated: number;
  wrongAnswers: number;
  pushesExpected: number;
  pushesReceived: number;
  pushesDuplicated: number;
  pushesOutOfOrder: number;
}

export interface Report {
  ok: boolean;
  /** Why `ok` is false (empty when ok). */
  problems: string[];
  migration: 'auto' | 'manual';
  total: ReportRow;
  byType: Partial<Record<BotType, ReportRow>>;
  /** The first few bot errors, `uid: message`. */
  errors: string[];
  /** Gap of every migrated bot, ms (for histograms). */
  gapsMs: number[];
  /** Bots in rooms (`--rooms`): rooms migrated, members kept, room messages lost/duplicated. */
  rooms?: RoomRow;
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? null;
}

function row(results: BotResult[]): ReportRow {
  const sum = (f: (r: BotResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  const gaps = results.flatMap((r) => (r.gapMs === null ? [] : [r.gapMs]));
  const took = results.flatMap((r) => (r.tookMs === null ? [] : [r.tookMs]));
  return {
    clients: results.length,
    connected: results.filter((r) => r.connected).length,
    offline: results.filter((r) => r.offline).length,
    migrated: results.filter((r) => r.migrations > 0).length,
    gapP50Ms: percentile(gaps, 50),
    gapP99Ms: percentile(gaps, 99),
    tookP50Ms: percentile(took, 50),
    sent: sum((r) => r.sent),
    answered: sum((r) => r.answered),
    lost: sum((r) => r.lost),
    duplicated: sum((r) => r.duplicated),
    wrongAnswers: sum((r) => r.wrongAnswers),
    pushesExpected: sum((r) => r.pushesExpected),
    pushesReceived: sum((r) => r.pushesReceived),
    pushesDuplicated: sum((r) => r.pushesDuplicated),
    pushesOutOfOrder: sum((r) => r.pushesOutOfOrder),
  };
}

export interface ReportOptions {
  migration: 'auto' | 'manual';
  /** When known (the demo), how many bots the offline nodes held: all of them must move. */
  expectedOffline?: number;
  rooms?: RoomRow;
}

export function buildReport(results: BotResult[], opts: ReportOptions): Report {
  const total = row(results);
  const byType: Partial<Record<BotType, ReportRow>> = {};
  for (const t of ['TCP', 'UDP'] as const) {
    const of = results.filter((r) => r.type === t);
    if (of.length > 0) byType[t] = row(of);
  }
  const problems: string[] = [];
  if (total.connected < total.clients) problems.push(`${total.clients - total.connected} bots did not connect`);
  // Every bot of the offline nodes must move. Not every one is told: with the notices paced, a
  // room member the node hands off with its room (PROTOCOL 10) leaves before its turn comes.
  if (opts.expectedOffline !== undefined && total.migrated !== opts.expectedOffline) {
    problems.push(`${total.migrated} bots moved, expected the ${opts.expectedOffline} of the offline nodes`);
  }
  if (opts.expectedOffline !== undefined && total.offline > opts.expectedOffline) {
    problems.push(`${total.offline} bots were told their node went offline, more than its ${opts.expectedOffline}`);
  }
  for (const [t, r] of Object.entries(byType)) {
    // Named per transport: a client without migration support shows up as exactly one type here.
    if (r.migrated < r.offline) problems.push(`${r.offline - r.migrated} of ${r.offline} ${t} bots told to migrate did not`);
  }
  if (total.lost > 0) problems.push(`${total.lost} messages lost`);
  if (total.duplicated > 0) problems.push(`${total.duplicated} messages duplicated`);
  if (total.wrongAnswers > 0) problems.push(`${total.wrongAnswers} answers out of sequence`);
  if (total.answered < total.sent) problems.push(`${total.sent - total.answered} messages unanswered`);
  if (total.pushesReceived < total.pushesExpected) problems.push(`${total.pushesExpected - total.pushesReceived} pushes missing`);
  if (total.pushesDuplicated > 0) problems.push(`${total.pushesDuplicated} pushes duplicated`);
  if (total.pushesOutOfOrder > 0) problems.push(`${total.pushesOutOfOrder} pushes out of order`);
  const rm = opts.rooms;
  if (rm !== undefined) {
    if (rm.kept < rm.rooms) problems.push(`${rm.rooms - rm.kept} of ${rm.rooms} rooms lost members`);
    if (rm.lost > 0) problems.push(`${rm.lost} room messages lost`);
    if (rm.duplicated > 0) problems.push(`${rm.duplicated} room messages duplicated`);
    if (rm.outOfOrder > 0) problems.push(`${rm.outOfOrder} room messages out of order`);
  }
  const errors = results.filter((r) => r.error !== null).map((r) => `${r.uid}: ${String(r.error)}`);
  if (errors.length > 0) problems.push(`${errors.length} bots reported errors`);
  return {
    ok: problems.length === 0,
    problems,
    migration: opts.migration,
    total,
    byType,
    errors: errors.slice(0, 10),
    gapsMs: results.flatMap((r) => (r.gapMs === null ? [] : [r.gapMs])),
    ...(rm === undefined ? {} : { rooms: rm }),
  };
}

const ms = (v: number | null): string => (v === null ? '-' : `${v}`);

export function formatReport(report: Report): string {
  const line = (name: string, r: ReportRow): Array<string | number> => [
    name, r.clients, r.connected, `${r.migrated}/${r.offline}`, ms(r.gapP50Ms), ms(r.gapP99Ms),
    r.sent, r.answered, r.lost, r.duplicated, `${r.pushesReceived}/${r.pushesExpected}`,
  ];
  const rows = Object.entries(report.byType).map(([t, r]) => line(t, r));
  if (rows.length > 1) rows.push(line('all', report.total));
  const table = formatTable(
    ['bots', 'clients', 'connected', 'moved/told', 'gap p50 ms', 'gap p99 ms', 'sent', 'answered', 'lost', 'duplicated', 'pushes'],
    rows.length > 0 ? rows : [line('all', report.total)],
  );
  const out = [table, '', `migration: ${report.migration}`];
  const rm = report.rooms;
  if (rm !== undefined) {
    out.push(
      `rooms: ${rm.rooms}, migrated: ${rm.migrated}, members kept: ${rm.kept}/${rm.rooms}; ` +
        `room messages: ${rm.received}/${rm.expected} received, lost: ${rm.lost}, duplicated: ${rm.duplicated}`,
    );
  }
  for (const e of report.errors) out.push(`error ${e}`);
  out.push(report.ok ? 'result: OK (nothing lost or duplicated)' : `result: FAILED (${report.problems.join('; ')})`);
  return out.join('\n');
}

/** Prints the report (JSON or table) on stdout and returns the exit code. */
export function printReport(report: Report, json: boolean): number {
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}
