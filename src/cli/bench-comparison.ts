/**
 * The demo's closing lines: migration against reconnecting, from the last bench/migration run on
 * this checkout (bench/results/*.json, written by `node dist/bench/migration.js`), with its date
 * and load. The demo itself only migrates; without a result file it says how to measure.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface SummaryRow {
  mode: string;
  clients: number;
  transport: string;
  /** The nodes' offline-notice pacing of the run ('on', 'off' or a window; absent in older files). */
  pacing?: string;
  path: 'migration' | 'reconnect';
  validRounds: number;
  allMovedMs: number | null;
  moveP99Ms: number | null;
}

interface BenchFile {
  machine?: { date?: string; cores?: number };
  rounds?: number;
  summary?: SummaryRow[];
  runs?: { loadAvg?: number[] }[];
}

/** bench/results of a source checkout (this file runs from dist/src/cli). */
const RESULTS_DIR = path.resolve(__dirname, '..', '..', '..', 'bench', 'results');
const FILES = ['migration.json', 'migration-in-process.json'];

const num = (v: number | null | undefined): number => (typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN);
const ms = (v: number): string => `${Math.round(v).toLocaleString('en-US')} ms`;

/** Lines comparing the two paths per mode, size and transport; empty when a file is unusable. */
export function comparisonLines(file: BenchFile, name: string): string[] {
  const rows = file.summary ?? [];
  const loads = (file.runs ?? []).map((r) => r.loadAvg?.[0]).filter((x): x is number => typeof x === 'number');
  const load = loads.length === 0 ? '?' : `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`;
  const out: string[] = [];
  for (const m of rows.filter((r) => r.path === 'migration' && r.validRounds > 0)) {
    const b = rows.find((r) => r.path === 'reconnect' && r.mode === m.mode && r.clients === m.clients && r.transport === m.transport && r.pacing === m.pacing && r.validRounds > 0);
    if (b === undefined) continue;
    const [ma, ba, mp, bp] = [num(m.allMovedMs), num(b.allMovedMs), num(m.moveP99Ms), num(b.moveP99Ms)];
    if ([ma, ba, mp, bp].some(Number.isNaN)) continue;
    out.push(
      `  ${m.mode} ${m.clients}+${m.clients} ${m.transport}${m.pacing === undefined ? '' : `, notice pacing ${m.pacing}`}: all moved ${ms(ma)} vs ${ms(ba)} (${(ma / ba).toFixed(2)}x), ` +
        `move p99 ${ms(mp)} vs ${ms(bp)} (${(mp / bp).toFixed(2)}x)`,
    );
  }
  if (out.length === 0) return [];
  const when = file.machine?.date ?? 'unknown date';
  return [`${name} (${when}, ${file.machine?.cores ?? '?'} cores, load average ${load}; migration vs reconnect, medians of ${file.rounds ?? '?'} rounds):`, ...out];
}

/** The comparison for the demo's report, or how to get one. */
export function benchComparison(dir = RESULTS_DIR): string {
  const lines: string[] = [];
  for (const f of FILES) {
    try {
      lines.push(...comparisonLines(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as BenchFile, `bench/results/${f}`));
    } catch {
      /* absent or unreadable: not measured here */
    }
  }
  const how =
    'Reconnecting instead (drop the client, ask the endpoint API, connect) loses the session and its user data; ' +
    'which path is faster depends on the load: README "Live migration vs reconnecting".';
  if (lines.length === 0) return `${how}\nMeasure it on this machine: npm run build:ts && node dist/bench/migration.js`;
  return [how, ...lines].join('\n');
}
