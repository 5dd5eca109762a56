/**
 * bench/rooms: room broadcasts (PROTOCOL 10, 1/4) on the Redis store side by side with the
 * in-memory registry (the anchor), same workload, same run. A room of 8 TCP members on two nodes
 * of an embedded cluster; each member broadcasts at a fixed offered rate; every other member must
 * get each one. Per mode and round: offered and delivered pushes/s, lost, delivery latency p50/p99
 * (send to receipt), CPU of this process (cluster and clients) and of redis-server per delivered
 * push. Medians over the rounds; modes alternate each round.
 *
 *   node dist/bench/rooms.js [--rounds 3] [--seconds 3] [--rate 100]
 */
import { Redis } from 'ioredis';
import { getEndpoint, TcpClient } from '../src/client';
import { formatTable } from '../src/cli/table';
import { startCluster, type Cluster } from '../src/server';
import { RedisServer } from '../test/helpers/redis-server';
import { fmt, median, percentile } from './lib/stats';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

const MEMBERS = 8;

interface Sample {
  offered: number;
  delivered: number;
  lost: number;
  p50: number;
  p99: number;
  cpuUs: number;
  redisCpuUs: number;
}

async function redisCpuSeconds(r: Redis | null): Promise<number> {
  if (r === null) return 0;
  const info = await r.info('cpu');
  const get = (k: string): number => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return get('used_cpu_user') + get('used_cpu_sys');
}

/** Member i on node tcp-(i % 2 + 1): the other node is TAKEN while it gets its endpoint. */
async function member(c: Cluster, i: number): Promise<TcpClient> {
  const other = i % 2 === 0 ? 'tcp-2' : 'tcp-1';
  await c.setNodeState(other, 'taken');
  try {
    const client = new TcpClient({ requestTimeoutMs: 30_000 });
    await client.connect(await getEndpoint(c.entryUrl, { type: 'TCP', uid: `m${i}` }));
    return client;
  } finally {
    await c.setNodeState(other, 'online');
  }
}

async function round(store: string, redis: Redis | null, seconds: number, rate: number): Promise<Sample> {
  const c = await startCluster({ tcpNodes: 2, udpNodes: 0, store });
  const members: TcpClient[] = [];
  try {
    for (let i = 0; i < MEMBERS; i++) members.push(await member(c, i));
    const { roomId } = await members[0].room.create({ maxMembers: MEMBERS });
    for (const m of members.slice(1)) await m.room.join(roomId);
    const lat: number[] = [];
    let delivered = 0;
    for (const m of members) {
      m.room.on('message', (_from, p) => {
        delivered++;
        lat.push(performance.now() - p.readDoubleBE(0));
      });
    }
    const cpu0 = process.cpuUsage();
    const r0 = await redisCpuSeconds(redis);
    // Paced: every member sends one broadcast each 1000/rate ms (offered load, not as fast as possible).
    const total = Math.round(seconds * rate);
    const every = 1000 / rate;
    const start = performance.now();
    for (let k = 0; k < total; k++) {
      const due = start + k * every;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      for (const m of members) {
        const b = Buffer.alloc(16);
        b.writeDoubleBE(performance.now(), 0);
        m.room.broadcast(b);
      }
    }
    const expected = total * MEMBERS * (MEMBERS - 1);
    const until = performance.now() + 10_000;
    while (delivered < expected && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    const elapsed = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const rcpu = (await redisCpuSeconds(redis)) - r0;
    return {
      offered: (total * MEMBERS * (MEMBERS - 1)) / seconds,
      delivered: delivered / elapsed,
      lost: expected - delivered,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      cpuUs: (cpu.user + cpu.system) / Math.max(1, delivered),
      redisCpuUs: (rcpu * 1e6) / Math.max(1, delivered),
    };
  } finally {
    for (const m of members) m.destroy();
    await c.stop();
  }
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 3);
  const seconds = arg('seconds', 3);
  const rate = arg('rate', 100);
  const server = await RedisServer.start();
  const redis = new Redis(server.url);
  const samples: Record<string, Sample[]> = { memory: [], redis: [] };
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['memory', 'redis'] : ['redis', 'memory'];
      for (const mode of order) {
        samples[mode].push(await round(mode === 'memory' ? 'memory' : server.url, mode === 'memory' ? null : redis, seconds, rate));
      }
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
  const med = (mode: string, k: keyof Sample): number => median(samples[mode].map((s) => s[k]));
  const rows = ['memory', 'redis'].map((mode) => [
    mode,
    fmt(med(mode, 'offered'), 0),
    fmt(med(mode, 'delivered'), 0),
    String(samples[mode].reduce((a, s) => a + s.lost, 0)),
    fmt(med(mode, 'p50'), 2),
    fmt(med(mode, 'p99'), 2),
    fmt(med(mode, 'cpuUs'), 1),
    fmt(med(mode, 'redisCpuUs'), 1),
  ]);
  console.log(`room of ${MEMBERS} TCP members on 2 nodes, ${rate} broadcasts/s per member, ${seconds} s, ${rounds} rounds (medians)`);
  console.log(formatTable(['store', 'offered push/s', 'delivered push/s', 'lost', 'p50 ms', 'p99 ms', 'process CPU us/push', 'redis CPU us/push'], rows));
  console.log(`ratio redis/memory: process CPU ${fmt(med('redis', 'cpuUs') / med('memory', 'cpuUs'), 2)}x, p50 ${fmt(med('redis', 'p50') / med('memory', 'p50'), 2)}x`);
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
