/**
 * bench/redis-send: client CPU per Redis script, the store's way (src/server/redis-send.ts: a turn's
 * first script written at once, the rest through ioredis's auto-pipeline) against ioredis's
 * auto-pipelining alone (main's way), on one redis-server, in one process, rounds interleaved.
 * Two shapes: `lone` = one script per event-loop turn (paced moves: a claim, a handoff, a rooms
 * update each in its own turn) and `storm` = `--burst` scripts issued in one turn (a migration
 * storm). Also the Redis server's CPU per script (its /proc time), which both ways share.
 *
 *   node dist/bench/redis-send.js [--scripts 20000] [--burst 100] [--rounds 5]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { ScriptSender } from '../src/server/redis-send';
import { RedisServer } from '../test/helpers/redis-server';
import { stringArg } from './lib/args';

const arg = (name: string, dflt: number): number => Number(stringArg(name) ?? dflt);
const SCRIPTS = arg('scripts', 20_000);
const BURST = arg('burst', 100);
const ROUNDS = arg('rounds', 5);

// A script of the claim's size: a hash read, a compare, a write.
const SRC = "local v = redis.call('HGET', ARGV[1], 'n') redis.call('HSET', ARGV[1], 'n', ARGV[2]) return v";

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const procCpuUs = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100; // utime + stime, 100 Hz ticks
};
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Send = (i: number) => Promise<unknown>;

async function lone(send: Send): Promise<void> {
  for (let i = 0; i < SCRIPTS; i++) {
    await nextTurn();
    await send(i);
  }
}

async function storm(send: Send): Promise<void> {
  for (let i = 0; i < SCRIPTS; i += BURST) {
    await nextTurn();
    const all: Promise<unknown>[] = [];
    for (let j = 0; j < BURST; j++) all.push(send(i + j));
    await Promise.all(all);
  }
}

async function main(): Promise<void> {
  const server = await RedisServer.start();
  const redis = new Redis(server.url, { enableAutoPipelining: true });
  const sha = (await redis.script('LOAD', SRC)) as string;
  const sender = new ScriptSender(redis, true);
  const ways: Record<string, Send> = {
    'auto-pipelining (main)': (i) => redis.evalsha(sha, 0, `k${i % 1000}`, String(i)),
    'first of a turn direct': (i) => sender.send('evalsha', [sha, 0, `k${i % 1000}`, String(i)]),
  };
  const shapes: Record<string, (s: Send) => Promise<void>> = { lone, storm };
  const res = new Map<string, { client: number[]; server: number[] }>();
  try {
    for (const s of Object.values(ways)) await lone(s); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const names = r % 2 === 0 ? Object.keys(ways) : Object.keys(ways).reverse();
      for (const [shape, run] of Object.entries(shapes)) {
        for (const name of names) {
          const c0 = cpuUs();
          const s0 = procCpuUs(server.pid);
          await run(ways[name]);
          const key = `${shape}: ${name}`;
          const e = res.get(key) ?? { client: [], server: [] };
          e.client.push((cpuUs() - c0) / SCRIPTS);
          e.server.push((procCpuUs(server.pid) - s0) / SCRIPTS);
          res.set(key, e);
        }
      }
    }
  } finally {
    redis.disconnect();
    await server.stop();
  }
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`${SCRIPTS} scripts per run, storm bursts of ${BURST}, ${ROUNDS} rounds interleaved; medians, us per script; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const [k, v] of res) {
    console.log(`${k.padEnd(36)} client ${med(v.client).toFixed(1).padStart(6)} (${Math.min(...v.client).toFixed(1)}-${Math.max(...v.client).toFixed(1)})   redis-server ${med(v.server).toFixed(1).padStart(5)}`);
  }
  console.log(`direct: ${sender.counts.direct}, pipelined: ${sender.counts.pipelined}`);
}

void main();
