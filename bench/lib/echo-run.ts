/**
 * Runs one measurement of lib/tcp-echo-child.ts in its own process and returns its sample:
 * shared by bench/tcp-throughput (TCP) and bench/udp's CPU table (UDP).
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { EchoSample } from './tcp-echo-child';

export type EchoTransport = 'TCP' | 'UDP';

export function runEchoChild(kind: string, entryUrl: string, depth: number, messages: number, clients: number,
  uid: string, baseline: string | undefined, transport: EchoTransport = 'TCP', wrap: string[] = [], warmup?: number): Promise<EchoSample> {
  const env: NodeJS.ProcessEnv = { ...process.env, DIARKIS_BENCH_TRANSPORT: transport };
  delete env.DIARKIS_IO;
  delete env.DIARKIS_NODE_ADDON;
  // native-baseline (TCP, its network thread) and baseline-loop / baseline-thread (UDP): the baseline's own client.
  if ((kind === 'native-baseline' || kind.startsWith('baseline-')) && baseline !== undefined) {
    env.DIARKIS_BENCH_BASELINE = path.resolve(baseline);
  }
  const child = path.join(__dirname, 'tcp-echo-child.js');
  // warmup: echoes before the measured ones (the child's default: min(2000, messages)).
  const args = [child, kind, entryUrl, String(depth), String(messages), String(clients), uid, ...(warmup !== undefined ? [String(warmup)] : [])];
  return new Promise((resolve, reject) => {
    // wrap: a command to run the child under (bench/tcp-syscalls: strace).
    const p = spawn(wrap[0] ?? process.execPath, wrap.length > 0 ? [...wrap.slice(1), process.execPath, ...args] : args,
      { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as EchoSample) : reject(new Error(`${kind}: exit ${code}`))));
  });
}

export interface EchoCase { depth: number; clients: number }
export type RoundSample = EchoSample & { round: number };

/**
 * `rounds` rounds of every case x kind, kinds in a rotated order each round (so machine noise
 * hits all alike). At 1 in flight on one client a quarter of `messages` (it is the slow case).
 */
export async function runRounds(kinds: string[], cases: EchoCase[], rounds: number, messages: number,
  run: (kind: string, c: EchoCase, messages: number) => Promise<EchoSample | undefined>, label: string): Promise<RoundSample[]> {
  const samples: RoundSample[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = kinds.map((_, i) => kinds[(i + r) % kinds.length] as string);
    for (const c of cases) {
      for (const kind of order) {
        const s = await run(kind, c, c.depth === 1 && c.clients === 1 ? Math.ceil(messages / 4) : messages);
        if (s !== undefined) samples.push({ ...s, round: r });
      }
    }
    process.stderr.write(`${label} round ${r + 1}/${rounds} done\n`);
  }
  return samples;
}
