/**
 * Renders bench/results/*.json into ONE self-contained HTML file (inline CSS and SVG, no script):
 * a renderer per known result kind, and for anything else its numbers as tables, so a new
 * benchmark shows up before anyone writes a renderer for it.
 *
 *   node dist/bench/report.js [resultsDir] [out.html]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { renderMigration } from './lib/report-migration';
import { machineInfo } from './lib/results';
import { barChart, esc, histogram } from './lib/svg';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export const RESULTS_DIR = path.resolve(__dirname, '..', '..', 'bench', 'results');

const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: Json | undefined): number => (typeof v === 'number' ? v : Number.NaN);
const cell = (v: Json | undefined): string =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : 2)) : v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v).slice(0, 80) : String(v);

/** A JSON key as a column title: 'allMovedMs' -> 'all moved (ms)'. */
export function label(key: string): string {
  const unit = /(Ms|Us|PerSec)$/.exec(key)?.[1];
  const base = unit === undefined ? key : key.slice(0, -unit.length);
  const words = base.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[-_]/g, ' ').toLowerCase();
  return unit === undefined ? words : `${words} (${unit === 'Ms' ? 'ms' : unit === 'Us' ? 'µs' : 'per s'})`;
}

/** A table of objects (the union of their scalar keys as columns). */
export function objectTable(rows: Obj[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => !Array.isArray(r[k]) && !isObj(r[k]))))];
  if (rows.length === 0 || cols.length === 0) return '';
  return `<table><tr>${cols.map((c) => `<th>${esc(label(c))}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${cols.map((c) => `<td>${esc(cell(r[c]))}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

function scalars(o: Obj): string {
  const entries = Object.entries(o).filter(([k, v]) => k !== 'machine' && !Array.isArray(v) && !isObj(v));
  if (entries.length === 0) return '';
  return `<table>${entries.map(([k, v]) => `<tr><th>${esc(label(k))}</th><td>${esc(cell(v))}</td></tr>`).join('')}</table>`;
}

/** Numeric sample arrays anywhere in the result whose name says latency, RTT or gap. */
function sampleArrays(o: Json, at = ''): Array<{ name: string; values: number[] }> {
  const out: Array<{ name: string; values: number[] }> = [];
  if (Array.isArray(o)) {
    if (o.length >= 5 && o.every((v) => typeof v === 'number') && /(latenc|rtt|gap|took)/i.test(at)) out.push({ name: at, values: o as number[] });
  } else if (isObj(o)) {
    for (const [k, v] of Object.entries(o)) out.push(...sampleArrays(v, at === '' ? k : `${at}.${k}`));
  }
  return out;
}

const unitOf = (name: string): string => (/us$|Us\b|micro/i.test(name) ? 'µs' : 'ms');

/** tcp-throughput (bench/tcp-throughput.ts): native vs pure-TS bars per requests in flight. */
function renderThroughput(r: Obj): string {
  const summary = (Array.isArray(r.summary) ? r.summary : []).filter(isObj);
  const depths = [...new Set(summary.map((s) => num(s.depth)))].filter(Number.isFinite).sort((a, b) => a - b);
  const kinds = [...new Set(summary.map((s) => String(s.kind)))];
  const pick = (kind: string, depth: number, f: string): number => num(summary.find((s) => s.kind === kind && s.depth === depth)?.[f]);
  const groups = (f: string) => depths.map((d) => ({ label: `${d} in flight`, values: kinds.map((k) => pick(k, d, f)) }));
  return [
    `<div class="plots">`,
    barChart('Throughput (higher is better)', 'messages/s', kinds, groups('messagesPerSecond')),
    barChart('Client CPU per message (lower is better)', 'µs CPU/msg', kinds, groups('cpuUsPerMessage')),
    `</div>`,
    objectTable(summary),
    scalars(r),
  ].join('\n');
}

/** Anything with latency/gap samples (udp and migration benchmarks): histograms, then tables. */
function renderGeneric(r: Obj): string {
  const plots = sampleArrays(r).map((s) => histogram(s.name.split('.').map(label).join(', '), unitOf(s.name), s.values));
  const tables = Object.entries(r)
    .filter(([k, v]) => k !== 'machine' && Array.isArray(v) && v.length > 0 && v.every(isObj))
    .map(([k, v]) => `<h3>${esc(k)}</h3>${objectTable((v as Json[]).filter(isObj).slice(0, 200))}`);
  const nested = Object.entries(r)
    .filter(([k, v]) => k !== 'machine' && isObj(v))
    .map(([k, v]) => `<h3>${esc(k)}</h3>${scalars(v as Obj)}`);
  return [plots.length > 0 ? `<div class="plots">${plots.join('\n')}</div>` : '', scalars(r), ...nested, ...tables].join('\n');
}

/** migration-demo (run-all's run of `diarkis-node demo --json`): per-transport rows, gap histogram. */
function renderMigrationDemo(r: Obj): string {
  const rows: Obj[] = [];
  const byType = isObj(r.byType) ? r.byType : {};
  for (const [t, row] of Object.entries(byType)) if (isObj(row)) rows.push({ bots: t, ...row });
  if (isObj(r.total)) rows.push({ bots: 'all', ...r.total });
  const gaps = Array.isArray(r.gapsMs) ? r.gapsMs.filter((v): v is number => typeof v === 'number') : [];
  const problems = Array.isArray(r.problems) ? r.problems.map(String) : [];
  return [
    `<p>${r.ok === true ? 'OK: nothing lost or duplicated' : `<span class="bad">FAILED: ${esc(problems.join('; '))}</span>`} · migration ${esc(cell(r.migration))}</p>`,
    `<div class="plots">${histogram('Migration gap per client (last answer by the old node to the first by the new)', 'ms', gaps, 20)}</div>`,
    objectTable(rows),
  ].join('\n');
}

const RENDERERS: Record<string, (r: Obj) => string> = {
  'tcp-throughput': renderThroughput,
  'migration-demo': renderMigrationDemo,
  migration: renderMigration,
};

function machineLine(m: Json | undefined): string {
  if (!isObj(m)) return '';
  return `<p class="machine">${esc(`ran ${cell(m.date)} · Node ${cell(m.node)} · ${cell(m.platform)} · ${cell(m.cpu)} × ${cell(m.cores)} · ${cell(m.memoryGiB)} GiB`)}</p>`;
}

export function renderReport(dir: string = RESULTS_DIR): string {
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  const sections: string[] = [];
  for (const f of files) {
    const name = f.replace(/\.json$/, '');
    let body: string;
    let machine = '';
    try {
      const parsed = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Json;
      if (!isObj(parsed)) throw new Error('not a JSON object');
      machine = machineLine(parsed.machine);
      // bench/migration --name migration-<variant> renders like migration.
      const render = RENDERERS[name] ?? (name.startsWith('migration-') && name !== 'migration-demo' ? renderMigration : renderGeneric);
      body = render(parsed);
    } catch (err) {
      body = `<p class="bad">cannot read ${esc(f)}: ${esc(err instanceof Error ? err.message : String(err))}</p>`;
    }
    sections.push(`<section><h2 id="${esc(name)}">${esc(name)}</h2>${machine}${body}</section>`);
  }
  const m = machineInfo();
  const toc = files.map((f) => `<a href="#${esc(f.replace(/\.json$/, ''))}">${esc(f.replace(/\.json$/, ''))}</a>`).join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>diarkis-node benchmarks</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.6em 0;font-size:12px;max-width:100%}th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f3f3f3;font-weight:600;white-space:normal;vertical-align:bottom}td{white-space:nowrap}
.plots{display:flex;flex-wrap:wrap;gap:1em}.machine{color:#666;font-size:12px}.bad{color:#b00}section{margin-bottom:2.5em}
</style></head><body>
<h1>diarkis-node benchmarks</h1>
<p class="machine">${esc(`rendered ${String(m.date)} · Node ${String(m.node)} · ${String(m.platform)} · ${String(m.cpu)} × ${String(m.cores)} · ${String(m.memoryGiB)} GiB`)}</p>
<p>${files.length === 0 ? 'No results yet: run <code>npm run bench</code>.' : toc}</p>
${sections.join('\n')}
</body></html>
`;
}

export function writeReport(dir: string = RESULTS_DIR, out: string = path.join(dir, 'report.html')): string {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, renderReport(dir));
  return out;
}

if (require.main === module) {
  const file = writeReport(process.argv[2] ?? RESULTS_DIR, process.argv[3]);
  console.log(`wrote ${file}`);
}
