/**
 * bench/tcp-throughput: the native TcpClient against a minimal pure-TypeScript client over
 * node:net (test/helpers/ts-tcp-client.ts, built from src/protocol), side by side in one run,
 * against the same reference TCP node running in a child process.
 *
 * Workload: 64-byte encrypted echo (sample command 2/1) with 1 and 64 requests in flight.
 * Per client kind and depth, over several alternating rounds: messages per second and client
 * CPU microseconds per message (process.cpuUsage, all threads of this process), medians; for
 * the native client also events delivered per JavaScript crossing (the event pump's batches).
 *
 *   node dist/bench/tcp-throughput.js [--rounds 5] [--messages 20000]
 */
import { getEndpoint, pumpStats, TcpClient } from '../src';
import { TsTcpClient, fetchEndpoint } from '../test/helpers/ts-tcp-client';
import { startClusterChild } from './lib/cluster-process';
import { fmt, median } from './lib/stats';
import { writeResult } from './lib/results';
import { formatTable } from '../src/cli/table';

type Kind = 'native' | 'typescript';
interface Sample { kind: Kind; depth: number; messages: number; seconds: number; cpuUs: number; eventsPerCrossing: number }
interface Requester { request(ver: number, cmd: number, body: Uint8Array): Promise<{ status: number }>; close(): Promise<void> }

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

async function openClient(kind: Kind, entryUrl: string, uid: string): Promise<Requester> {
  if (kind === 'typescript') {
    const c = await TsTcpClient.connect(await fetchEndpoint(entryUrl, 'TCP', uid));
    return { request: (v, c2, b) => c.request(v, c2, b), close: () => c.close() };
  }
  const client = new TcpClient({ requestTimeoutMs: 60_000 });
  await client.connect(await getEndpoint(entryUrl, { type: 'TCP', uid }));
  return { request: (v, c2, b) => client.request(v, c2, b), close: () => client.close() };
}

async function drive(client: Requester, depth: number, messages: number): Promise<void> {
  const body = Buffer.alloc(64, 7);
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < messages) {
      started++;
      const res = await client.request(2, 1, body);
      if (res.status !== 1) throw new Error(`echo answered status ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
}

async function measure(kind: Kind, entryUrl: string, depth: number, messages: number, round: number): Promise<Sample> {
  const client = await openClient(kind, entryUrl, `bench-${kind}-${depth}-${round}`);
  await drive(client, depth, Math.min(2000, messages)); // warm-up (JIT, buffers)
  const pump0 = pumpStats();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await drive(client, depth, messages);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const pump1 = pumpStats();
  await client.close();
  const batches = pump1.batches - pump0.batches;
  return {
    kind, depth, messages, seconds,
    cpuUs: (cpu.user + cpu.system) / messages,
    eventsPerCrossing: kind === 'native' && batches > 0 ? (pump1.events - pump0.events) / batches : Number.NaN,
  };
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 5);
  const messages = arg('messages', 20000);
  const cluster = await startClusterChild({ tcpNodes: 1, encryption: true });
  const samples: Sample[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // alternate the order each round so neither kind always runs on a warmer machine
      const kinds: Kind[] = r % 2 === 0 ? ['native', 'typescript'] : ['typescript', 'native'];
      for (const depth of [1, 64]) {
        for (const kind of kinds) {
          const n = depth === 1 ? Math.ceil(messages / 5) : messages;
          samples.push(await measure(kind, cluster.entryUrl, depth, n, r));
        }
      }
      process.stderr.write(`round ${r + 1}/${rounds} done\n`);
    }
  } finally {
    await cluster.stop();
  }
  const rows: Array<Array<string | number>> = [];
  const summary: Record<string, unknown>[] = [];
  for (const depth of [1, 64]) {
    const pick = (kind: Kind): Sample[] => samples.filter((s) => s.kind === kind && s.depth === depth);
    const rate = (s: Sample[]): number => median(s.map((x) => x.messages / x.seconds));
    const cpu = (s: Sample[]): number => median(s.map((x) => x.cpuUs));
    const nat = pick('native');
    const ts = pick('typescript');
    for (const [kind, s] of [['native', nat], ['typescript', ts]] as const) {
      const epc = median(s.map((x) => x.eventsPerCrossing).filter(Number.isFinite));
      rows.push([kind, depth, fmt(rate(s), 0), fmt(cpu(s), 1), kind === 'native' ? fmt(epc, 2) : '-']);
      summary.push({ kind, depth, messagesPerSecond: rate(s), cpuUsPerMessage: cpu(s), eventsPerCrossing: kind === 'native' ? epc : null });
    }
    rows.push(['native/ts ratio', depth, `${(rate(nat) / rate(ts)).toFixed(2)}x rate`, `${(cpu(nat) / cpu(ts)).toFixed(2)}x cpu`, '']);
  }
  console.log(`\nTCP throughput: 64-byte encrypted echo, ${rounds} rounds, medians\n`);
  console.log(formatTable(['client', 'in flight', 'msgs/s', 'cpu us/msg', 'events/crossing'], rows));
  const file = writeResult('tcp-throughput', { rounds, messages, summary, samples });
  console.log(`\nwrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
