/**
 * bench/udp-idle-memory: memory per idle UdpClient (issue #10's goal: 8 KiB). N clients connected
 * to one UDP node in a child process, echoes on at the default interval; after an echo round and a
 * GC, the client process's RSS delta / N, split into the JS heap, external (Buffers) and the rest
 * (native heap, thread stacks, allocator overhead).
 *
 *   npm run build && node --expose-gc dist/bench/udp-idle-memory.js [--clients 1000]
 */
import { getEndpoint, UdpClient } from '../src/client';
import { formatTable } from '../src/cli/table';
import { startClusterChild } from './lib/cluster-process';
import { writeResult } from './lib/results';
import { fmt } from './lib/stats';

const i = process.argv.indexOf('--clients');
const N = i >= 0 && Number(process.argv[i + 1]) > 0 ? Number(process.argv[i + 1]) : 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let k = 0; k < 3; k++) {
    global.gc?.();
    await sleep(200);
  }
  return process.memoryUsage();
}

async function main(): Promise<void> {
  if (global.gc === undefined) throw new Error('run with node --expose-gc');
  const cluster = await startClusterChild({ tcpNodes: 0, udpNodes: 1, encryption: true });
  const clients: UdpClient[] = [];
  try {
    // The first client starts the addon's runtime (its thread and buffers): not per-session cost.
    const first = new UdpClient();
    await first.connect(await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'mem-0' }));
    clients.push(first);
    // Two checkpoints, N and 2N clients: the slope between them is the marginal cost of one
    // more idle client, free of the one-time growth (V8 heap, allocator arenas) of the first ones.
    const m0 = await settle();
    const connectMore = async (upTo: number): Promise<void> => {
      for (let k = clients.length; k <= upTo; k += 100) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(100, upTo + 1 - k) }, async (_, j) => {
            const c = new UdpClient();
            await c.connect(await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: `mem-${k + j}` }));
            return c;
          }),
        );
        clients.push(...batch);
      }
      await sleep(6000); // one echo round at the default 5 s interval
    };
    await connectMore(N);
    const m1 = await settle();
    await connectMore(2 * N);
    const m2 = await settle();
    const per = (a: number, b: number): string => fmt((b - a) / N / 1024, 2);
    const row = (label: string, a: NodeJS.MemoryUsage, b: NodeJS.MemoryUsage): string[] => [
      label,
      per(a.rss, b.rss),
      per(a.heapUsed, b.heapUsed),
      per(a.heapTotal, b.heapTotal),
      per(a.external, b.external),
      per(a.rss - a.heapTotal - a.external, b.rss - b.heapTotal - b.external),
    ];
    const rows = [row(`first ${N} (after 1)`, m0, m1), row(`next ${N} (${N} -> ${2 * N})`, m1, m2)];
    process.stdout.write(
      `\nidle UdpClients, echoes on (5 s), after GC; KiB per client\n${formatTable(['clients', 'RSS', 'JS heap used', 'JS heap total', 'external', 'RSS - heap total - external (native)'], rows)}\n`,
    );
    process.stdout.write(`results: ${writeResult('udp-idle-memory', { clients: N, m0, m1, m2 })}\n`);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await cluster.stop();
  }
}

void main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
