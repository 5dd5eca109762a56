/**
 * bench/migration-merge: the runs of several bench/migration result files as one result, medians
 * over all their valid runs. A round of bench/migration at 500 + 500 and 1000 + 1000 with both
 * pacings takes a few minutes; rounds run apart (each under the bench lock) merge here.
 *
 *   node dist/bench/migration-merge.js [--name migration] bench/results/a.json bench/results/b.json ...
 */
import * as fs from 'node:fs';
import type { Mode, RunResult } from './lib/migration-run';
import { cpuLines, goalLines, isValidRun, phaseTable, summariseAll, summaryTable } from './lib/migration-summary';
import { machineInfo, writeResult } from './lib/results';
import { fmt } from './lib/stats';

interface ResultFile {
  machine?: { date?: string };
  intervalMs?: number;
  window?: number;
  connectRate?: number;
  runs?: RunResult[];
}

function main(): void {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--name');
  const name = at >= 0 ? (argv[at + 1] ?? 'migration') : 'migration';
  const files = argv.filter((a, i) => a !== '--name' && (at < 0 || i !== at + 1));
  if (files.length === 0) throw new Error('usage: migration-merge [--name NAME] <result.json>...');
  const loaded = files.map((f) => ({ f, r: JSON.parse(fs.readFileSync(f, 'utf8')) as ResultFile }));
  const first = loaded[0]?.r as ResultFile;
  for (const { f, r } of loaded) {
    if (r.intervalMs !== first.intervalMs || r.window !== first.window) throw new Error(`${f}: --interval/--window differ from ${files[0] as string}'s`);
  }
  const runs = loaded.flatMap(({ r }) => r.runs ?? []);
  const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];
  const modes = uniq(runs.map((r) => r.spec.mode)) as Mode[];
  const sizes = uniq(runs.map((r) => r.spec.clients)).sort((a, b) => a - b);
  const pacings = uniq(runs.map((r) => r.spec.pacing));
  const warms = uniq(runs.map((r) => r.spec.warm ?? 0)).sort((a, b) => a - b);
  const key = (r: RunResult): string => `${r.spec.mode} ${r.spec.clients} ${r.spec.pacing} ${r.spec.warm ?? 0} ${r.spec.path}`;
  const perKey = new Map<string, number>();
  for (const r of runs) perKey.set(key(r), (perKey.get(key(r)) ?? 0) + 1);
  const rounds = Math.max(...perKey.values());
  const loads = runs.map((r) => r.loadAvg[0] ?? Number.NaN);
  console.log(`${files.length} files, ${runs.length} runs (${runs.filter(isValidRun).length} valid), load average (1 min) ${fmt(Math.min(...loads), 1)}-${fmt(Math.max(...loads), 1)}`);
  console.log(`dates: ${loaded.map(({ r }) => r.machine?.date ?? '?').join(', ')}\n`);
  const summary = summariseAll(runs, modes, sizes, pacings, warms);
  console.log(summaryTable(summary));
  const goals = goalLines(summary);
  console.log(`\n${goals.join('\n')}\n`);
  console.log(`${cpuLines(summary).join('\n')}\n`);
  console.log(phaseTable(runs, modes, sizes, pacings, warms));
  // The date readers show (npm start's closing lines) is the last measurement's, not the merge's.
  const dates = loaded.map(({ r }) => r.machine?.date ?? '').filter((d) => d !== '').sort();
  const file = writeResult(name, {
    machine: { ...machineInfo(), date: dates[dates.length - 1] ?? 'unknown', dates, mergedAt: new Date().toISOString() },
    quick: false, sizes, rounds, modes, pacings, warms, intervalMs: first.intervalMs, window: first.window, connectRate: first.connectRate,
    mergedFrom: files, summary, goals, runs,
  });
  console.log(`wrote ${file}`);
}

main();
