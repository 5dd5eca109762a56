/**
 * bench/udp-node-cpu: the reference UDP node's CPU per reliable echo, A/B in one run. One UDP node
 * per cluster child (encrypted, defaults), one native UdpClient each, direct (no proxy); bursts of
 * `--messages` 16-byte 2/1 echoes sent at once, the node process's CPU (user + system, from the
 * child's process.cpuUsage) read before and after each burst. `--baseline <tree>` (e.g. a copy of
 * main's dist/, or build/baseline/<commit>/src/dist from bench/build-baseline.sh) runs that tree's
 * cluster beside this one, bursts interleaved, after `--warmup` bursts each (JIT). `--loss P`
 * puts a seeded proxy (test/helpers/udp-proxy, in this process) with P % loss each way and 5-35 ms
 * of delay in front of each node (the same seed for both trees).
 *
 *   node dist/bench/udp-node-cpu.js [--baseline dist-base] [--bursts 15] [--warmup 5] [--messages 2000] [--loss 15]
 */
import { loadavg } from 'node:os';
import * as path from 'node:path';
import { getEndpoint, UdpClient } from '../src/client';
import { UdpProxy } from '../test/helpers/udp-proxy';
import { startClusterChild, type ClusterChild } from './lib/cluster-process';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const BURSTS = arg('bursts', 15);
const WARMUP = arg('warmup', 5);
const MESSAGES = arg('messages', 2000);
const LOSS = arg('loss', -1);
const bi = process.argv.indexOf('--baseline');
const BASELINE = bi >= 0 ? process.argv[bi + 1] : undefined;

interface Side {
  name: string;
  cluster: ClusterChild;
  client: UdpClient;
  proxy: UdpProxy | null;
  usPerEcho: number[];
}

async function side(name: string, start: typeof startClusterChild): Promise<Side> {
  const cluster = await start({ tcpNodes: 0, udpNodes: 1 });
  const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: `cpu-${name}` });
  const faults = { lossPct: LOSS, delayMs: 5, jitterMs: 30 };
  const proxy = LOSS < 0 ? null : await UdpProxy.start({ seed: 7, target: { host: ep.serverHost, port: ep.serverPort }, toServer: faults, toClient: faults, socketBufferBytes: 4 << 20 });
  const client = new UdpClient({ requestTimeoutMs: 120_000 });
  await client.connect(proxy === null ? ep : { ...ep, serverPort: proxy.port });
  return { name, cluster, client, proxy, usPerEcho: [] };
}

async function burst(s: Side, record: boolean): Promise<void> {
  const cpu = async (): Promise<number> => {
    const st = await s.cluster.stats();
    return st.cpuUserMs + st.cpuSystemMs;
  };
  const before = await cpu();
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(i, 0);
    all.push(s.client.request(2, 1, b));
  }
  await Promise.all(all);
  const ms = (await cpu()) - before;
  if (record) s.usPerEcho.push((ms * 1000) / MESSAGES);
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const sides: Side[] = [await side('this tree', startClusterChild)];
  if (BASELINE !== undefined) {
    // That tree's own cluster (its node code), forked from its own cluster-process module.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.resolve(BASELINE, 'bench', 'lib', 'cluster-process.js')) as { startClusterChild: typeof startClusterChild };
    sides.push(await side(`baseline ${BASELINE}`, mod.startClusterChild));
  }
  const load0 = loadavg();
  for (let i = 0; i < WARMUP + BURSTS; i++) for (const s of i % 2 === 0 ? sides : [...sides].reverse()) await burst(s, i >= WARMUP);
  const load1 = loadavg();
  process.stdout.write(
    `node CPU per echo (${MESSAGES} encrypted 16-byte 2/1 echoes per burst, ${LOSS < 0 ? 'direct' : `proxy ${LOSS} % loss, 5-35 ms`}, ${BURSTS} bursts after ${WARMUP} warm-up, interleaved); ` +
      `load ${load0.map((l) => l.toFixed(2)).join(' ')} -> ${load1.map((l) => l.toFixed(2)).join(' ')}\n`,
  );
  for (const s of sides) {
    const v = [...s.usPerEcho].sort((a, b) => a - b);
    process.stdout.write(`  ${s.name.padEnd(28)} median ${median(v).toFixed(2)} us, min ${v[0].toFixed(2)}, max ${v[v.length - 1].toFixed(2)}\n`);
  }
  if (sides.length === 2) process.stdout.write(`  ratio this / baseline: ${(median(sides[0].usPerEcho) / median(sides[1].usPerEcho)).toFixed(3)}\n`);
  for (const s of sides) {
    await s.client.close();
    await s.proxy?.close();
    await s.cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
