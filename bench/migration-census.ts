/**
 * bench/migration-census: what one UDP move puts on the wire at the nodes, by node and datagram
 * type, against the reconnect path (drop, ask the endpoint API, connect): N idle clients on udp-1
 * of an embedded cluster (one UDP socket per node), udp-1 goes OFFLINE, each client moves and sends
 * one request. Counts only (no timing): every datagram the nodes send or read, by flag, and the
 * timers the process sets, fires and clears meanwhile (setTimeout: the nodes' RUDP timers, the
 * cluster's and this script's; the clients are native, their timers are not counted).
 *
 *   node dist/bench/migration-census.js [--clients 50]
 */
import { Socket } from 'node:dgram';
import { getEndpoint, UdpClient } from '../src/client';
import { startCluster, type Cluster } from '../src/server';

const FLAGS = ['?', 'UDP', 'SYN', 'DAT', 'ACK', 'RDAT', 'RACK', 'FIN'];
const counts = new Map<string, number>();
let portNode: (port: number) => string = () => '?';

/** The flag, and for DAT/RDAT the first packet's ver/cmd (header: magic(4) ver(1) ... cmd at 8). */
function flagOf(b: Uint8Array): string {
  if (b.length === 4 && b[0] === 0x0d && b[1] === 0x0e) return 'TERM';
  const f = FLAGS[b[3] ?? 0] ?? '?';
  if ((f === 'DAT' || f === 'RDAT') && b.length >= 14) return `${f} ${b[8] ?? 0}/${((b[12] ?? 0) << 8) | (b[13] ?? 0)}`;
  return f;
}
const add = (k: string): void => void counts.set(k, (counts.get(k) ?? 0) + 1);

const timerCounts = new Map<string, number>();
const addTimer = (k: string): void => void timerCounts.set(k, (timerCounts.get(k) ?? 0) + 1);
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
  addTimer('set');
  return realSetTimeout(() => {
    addTimer('fired');
    fn(...args);
  }, ms);
}) as typeof setTimeout;
globalThis.clearTimeout = ((t: Parameters<typeof clearTimeout>[0]) => {
  if (t !== undefined && t !== null) addTimer('cleared');
  realClearTimeout(t);
}) as typeof clearTimeout;

// The node's sockets: count what they send and read (the clients are native, not seen here).
const send = Socket.prototype.send as (...a: unknown[]) => void;
Socket.prototype.send = function (this: Socket, ...a: unknown[]): void {
  const msg = a[0] as Buffer;
  add(`${portNode(this.address().port)} out ${flagOf(msg)}`);
  send.apply(this, a);
} as typeof Socket.prototype.send;
const emit = Socket.prototype.emit;
Socket.prototype.emit = function (this: Socket, ev: string | symbol, ...a: unknown[]): boolean {
  if (ev === 'message') add(`${portNode(this.address().port)} in ${flagOf(a[0] as Buffer)}`);
  return emit.apply(this, [ev, ...a] as Parameters<typeof emit>);
} as typeof Socket.prototype.emit;

async function withCluster(fn: (c: Cluster) => Promise<void>): Promise<void> {
  const c = await startCluster({ udpNodes: 2, tcpNodes: 0, udp: { sockets: 1 }, shutdownTimeoutMs: 120_000 });
  portNode = (p) => c.nodeIdAt(p) ?? '?';
  try {
    await c.setNodeState('udp-2', 'taken');
    await fn(c);
  } finally {
    await c.stop();
  }
}

async function run(path: 'migration' | 'reconnect', n: number): Promise<{ dg: Map<string, number>; timers: Map<string, number> }> {
  let result = new Map<string, number>();
  let timers = new Map<string, number>();
  await withCluster(async (c) => {
    const clients: UdpClient[] = [];
    for (let i = 0; i < n; i++) {
      const cl = new UdpClient({ migration: path === 'migration' ? 'auto' : 'manual', requestTimeoutMs: 30_000 });
      cl.on('error', () => undefined);
      await cl.connect(await getEndpoint(c.entryUrl, { type: 'UDP', uid: `${path}-${i}` }));
      await cl.request(2, 4, Buffer.from([0, 0, 0, 1]));
      clients.push(cl);
    }
    await c.setNodeState('udp-2', 'online');
    // Let the connects' ACKs and probes settle before counting.
    await new Promise((r) => setTimeout(r, 300));
    counts.clear();
    timerCounts.clear();
    const moved = clients.map(
      (cl, i) =>
        new Promise<UdpClient>((resolve, reject) => {
          if (path === 'migration') {
            cl.once('migrated', () => void cl.request(2, 4, Buffer.from([0, 0, 0, 2])).then(() => resolve(cl), reject));
            return;
          }
          cl.once('offline', () => {
            void (async () => {
              await cl.close().catch(() => undefined);
              const next = new UdpClient({ migration: 'manual', requestTimeoutMs: 30_000 });
              next.on('error', () => undefined);
              await next.connect(await getEndpoint(c.entryUrl, { type: 'UDP', uid: `${path}-${i}` }));
              await next.request(2, 4, Buffer.from([0, 0, 0, 2]));
              resolve(next);
            })().catch(reject);
          });
        }),
    );
    await c.setNodeState('udp-1', 'offline');
    const after = await Promise.all(moved);
    // The last ACKs and closes of the moves (a few RTTs on loopback).
    await new Promise((r) => setTimeout(r, 300));
    result = new Map(counts);
    timers = new Map(timerCounts);
    for (const cl of [...clients, ...after]) cl.destroy();
  });
  return { dg: result, timers };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--clients');
  const n = i >= 0 ? Number(process.argv[i + 1]) : 50;
  const { dg: m, timers: mt } = await run('migration', n);
  const { dg: r, timers: rt } = await run('reconnect', n);
  const keys = [...new Set([...m.keys(), ...r.keys()])].sort();
  console.log(`datagrams at the nodes per moved client (${n} UDP clients, idle, one request after the move)`);
  console.log(['node dir flag'.padEnd(18), 'migration', 'reconnect'].join('  '));
  for (const k of keys) console.log([k.padEnd(18), ((m.get(k) ?? 0) / n).toFixed(2).padStart(9), ((r.get(k) ?? 0) / n).toFixed(2).padStart(9)].join('  '));
  const sum = (x: Map<string, number>): string => ([...x.values()].reduce((a, v) => a + v, 0) / n).toFixed(2);
  console.log(['total'.padEnd(18), sum(m).padStart(9), sum(r).padStart(9)].join('  '));
  console.log(`\ntimers (setTimeout) in the process per moved client, OFFLINE to the last close (+300 ms)`);
  for (const k of ['set', 'fired', 'cleared']) {
    console.log([`timers ${k}`.padEnd(18), ((mt.get(k) ?? 0) / n).toFixed(2).padStart(9), ((rt.get(k) ?? 0) / n).toFixed(2).padStart(9)].join('  '));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
