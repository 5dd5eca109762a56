/**
 * npm run bench: runs every benchmark in turn (each in its own process, so one's memory and
 * threads do not disturb the next), each printing its table and writing bench/results/*.json.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const BENCHMARKS = ['tcp-throughput'];

let failed = 0;
for (const name of BENCHMARKS) {
  console.log(`\n### ${name}`);
  const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`${name} failed (exit ${String(r.status)})`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
