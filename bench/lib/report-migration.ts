/**
 * The report section of bench/migration (issue 12): migration and reconnect move times overlaid on
 * one shared axis per mode, size and transport; the summary, phase breakdown and runs in tables
 * with titles in words.
 */
import { esc, overlayHistogram } from './svg';
import { percentile } from './stats';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: Json | undefined): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
const num = (v: Json | undefined): number => (typeof v === 'number' ? v : Number.NaN);
const nums = (v: Json | undefined): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);
const f = (v: Json | undefined, d = 0): string => (typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : typeof v === 'string' ? v : '-');

function table(head: string[], rows: string[][]): string {
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** As bench/lib/migration-summary's isValidRun: delivered what was offered, every client connected. */
const valid = (run: Obj): boolean =>
  num(run.deliveredReqPerSec) >= 0.95 * num(run.offeredReqPerSec) && arr(run.rows).every((x) => x.connected === x.clients);

export function renderMigration(r: Obj): string {
  const runs = arr(r.runs);
  const summary = arr(r.summary);
  const spec = (run: Obj): Obj => (isObj(run.spec) ? run.spec : {});
  const all = runs.flatMap((run) => (isObj(run.moveSamplesMs) ? Object.values(run.moveSamplesMs).flatMap(nums) : []));
  // One axis for every chart, so a bar in one means the same time as in any other.
  const axisMax = percentile(all, 99.5);
  const charts: string[] = [];
  // Runs before --pacing have no pacing in their spec: one group, no label.
  const pacingOf = (x: Obj): string => (spec(x).pacing === undefined ? '' : String(spec(x).pacing));
  const pacings = [...new Set(runs.map(pacingOf))];
  for (const mode of [...new Set(runs.map((x) => String(spec(x).mode)))]) {
    for (const n of [...new Set(runs.map((x) => num(spec(x).clients)))]) {
      for (const p of pacings) {
        for (const t of ['UDP', 'TCP']) {
          const of = (path: string): number[] =>
            runs.filter((x) => spec(x).mode === mode && spec(x).clients === n && pacingOf(x) === p && spec(x).path === path && valid(x)).flatMap((x) => (isObj(x.moveSamplesMs) ? nums(x.moveSamplesMs[t]) : []));
          // Short enough for the chart's width with the pacing named.
          const paced = p === '' ? '' : `, notices ${p === 'off' ? 'at once' : p === 'on' ? 'paced' : `paced (${p})`}`;
          const where = p === '' ? (mode === 'processes' ? 'nodes as processes on Redis' : 'cluster in one process') : mode === 'processes' ? 'processes on Redis' : 'one process';
          const title = `${t}, ${n} + ${n} clients, ${where}${paced}`;
          charts.push(overlayHistogram(title, 'move time per client, ms (offline event → first answer by the new node)', [
            { name: 'live migration', values: of('migration') },
            { name: 'reconnect', values: of('reconnect') },
          ], axisMax));
        }
      }
    }
  }
  const sumRows = summary.map((s) => [
    s.mode === 'processes' ? 'processes + Redis' : 'one process', `${f(s.clients)} + ${f(s.clients)}`, s.pacing === undefined ? '-' : String(s.pacing), String(s.transport), String(s.path), f(s.validRounds),
    f(s.allMovedMs), f(s.moveP50Ms), f(s.moveP99Ms), f(s.gapP50Ms), f(s.gapP99Ms), `${f(s.lost)} / ${f(s.duplicated)}`, String(s.kept), f(s.clientCpuMs, 2), f(s.serverCpuMs, 2),
  ]);
  const phaseRows: string[][] = [];
  for (const mode of [...new Set(runs.map((x) => String(spec(x).mode)))]) {
    for (const n of [...new Set(runs.map((x) => num(spec(x).clients)))]) {
      for (const p of pacings) {
        const rs = runs.filter((x) => spec(x).mode === mode && spec(x).clients === n && pacingOf(x) === p && spec(x).path === 'migration');
        const of = (x: Obj | undefined, t: string): Obj[] => (x !== undefined && isObj(x.phasesByTransport) ? arr(x.phasesByTransport[t]) : []);
        for (const t of ['UDP', 'TCP']) {
          of(rs[0], t).forEach((st, i) => {
            const med = (k: string): number => percentile(rs.map((x) => num(of(x, t)[i]?.[k])).filter(Number.isFinite), 50);
            phaseRows.push([mode, `${f(n)} + ${f(n)}`, p === '' ? '-' : p, t, String(st.step), f(med('p50Ms'), 1), f(med('p99Ms'), 1)]);
          });
        }
      }
    }
  }
  const runRows = runs.map((x) => [
    String(spec(x).mode), `${f(spec(x).clients)} + ${f(spec(x).clients)}`, pacingOf(x) === '' ? '-' : pacingOf(x), String(spec(x).path), f(x.nominalReqPerSec), f(x.offeredReqPerSec), f(x.deliveredReqPerSec),
    valid(x) ? 'yes' : 'no (left out)', nums(x.loadAvg).map((v) => v.toFixed(1)).join(' '), f(x.clientCpuMsPerMove, 2), f(x.serverCpuMsPerMove, 2),
  ]);
  return [
    `<p>Every client streams sequenced requests (one every ${f(r.intervalMs)} ms, at most ${f(r.window)} in flight); the nodes holding them go OFFLINE together. `,
    `Medians over ${f(r.rounds)} interleaved rounds; a run counts only when the cluster delivered what the clients offered.</p>`,
    `<ul>${(Array.isArray(r.goals) ? r.goals : []).map((g) => `<li>${esc(String(g))}</li>`).join('')}</ul>`,
    `<div class="plots">${charts.join('\n')}</div>`,
    `<h3>Summary (medians over valid rounds)</h3>`,
    table(['cluster', 'clients', 'notice pacing', 'transport', 'path', 'valid rounds', 'all moved (ms from OFFLINE)', 'move p50 (ms)', 'move p99 (ms)', 'gap p50 (ms)', 'gap p99 (ms)', 'lost / duplicated', 'user data kept', 'client CPU per move (ms)', 'server CPU per move (ms)'], sumRows),
    `<h3>Where a migration's time goes (per step, ms)</h3>`,
    table(['cluster', 'clients', 'notice pacing', 'transport', 'step', 'p50', 'p99'], phaseRows),
    `<h3>Runs</h3>`,
    table(['cluster', 'clients', 'notice pacing', 'path', 'scheduled req/s', 'sent req/s (offered)', 'delivered req/s', 'valid', 'load average (1, 5, 15 min)', 'client CPU per move (ms)', 'server CPU per move (ms)'], runRows),
  ].join('\n');
}
