/** Writes a benchmark's JSON result under bench/results/, with the machine it ran on. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function machineInfo(): Record<string, string | number> {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

export function writeResult(name: string, data: unknown): string {
  const dir = path.resolve(__dirname, '..', '..', '..', 'bench', 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ machine: machineInfo(), ...(data as object) }, null, 2));
  return file;
}
