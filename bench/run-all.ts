/**
 * npm run bench: runs every benchmark in bench/ in turn (each in its own process, so one's memory
 * and threads do not disturb the next), each printing its table and writing bench/results/*.json;
 * then the live migration demo as a benchmark (bench/results/migration-demo.json); then renders
 * bench/results/report.html from whatever results exist.
 *
 *   npm run bench [-- --quick] [-- --only tcp-throughput] [-- --report-only]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeResult } from './lib/results';
import { writeReport } from './report';

// Tools that read other runs' results (they need arguments), not benchmarks.
const NOT_BENCHMARKS = new Set(['run-all.js', 'report.js', 'profile-window.js', 'migration-merge.js']);
/** Smaller sizes under --quick, so the whole run stays within a few minutes on two cores. */
const QUICK_ARGS: Record<string, string[]> = {
  'tcp-throughput': ['--rounds', '2', '--messages', '4000'],
  udp: ['--samples', '60', '--messages', '500', '--clients', '1000'],
};

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const reportOnly = argv.includes('--report-only');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? (argv[onlyAt + 1] ?? '').split(',') : null;
const selected = (name: string): boolean => only === null || only.includes(name);

function benchmarks(): string[] {
  return fs
    .readdirSync(__dirname)
    .filter((f) => f.endsWith('.js') && !NOT_BENCHMARKS.has(f))
    .map((f) => f.replace(/\.js$/, ''))
    .sort();
}

function runBenchmarks(): number {
  let failed = 0;
  for (const name of benchmarks().filter(selected)) {
    console.log(`\n### ${name}${quick ? ' (quick)' : ''}`);
    // Each benchmark gets --quick plus any known smaller sizes; it ignores what it does not know.
    const extra = quick ? ['--quick', ...(QUICK_ARGS[name] ?? [])] : [];
    const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`), ...extra], { stdio: 'inherit' });
    if (r.status !== 0) {
      failed++;
      console.error(`${name} failed (exit ${String(r.status)})`);
    }
  }
  return failed;
}

/** The demo's JSON report, saved as a result: migration gaps per client, loss and duplicates. */
function runMigrationDemo(): number {
  if (!selected('migration-demo')) return 0;
  const bots = quick ? '60' : '200';
  console.log(`\n### migration-demo (${bots} bots)`);
  const cli = path.join(__dirname, '..', 'src', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, 'demo', '--bots', bots, '--duration', quick ? '5' : '8', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  try {
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    const file = writeResult('migration-demo', { bots: Number(bots), ...report });
    console.log(`ok: ${String(report.ok)}; wrote ${file}`);
  } catch {
    console.error(`migration-demo: no JSON report (exit ${String(r.status)})`);
    return 1;
  }
  return r.status === 0 ? 0 : 1;
}

const failed = reportOnly ? 0 : runBenchmarks() + runMigrationDemo();
console.log(`\nwrote ${writeReport()}`);
process.exitCode = failed === 0 ? 0 : 1;
