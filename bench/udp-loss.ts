/**
 * bench/udp-loss: a burst of small reliable echoes under loss, the project beside two anchors in
 * the same run and through the same seeded fault proxy (test/helpers/udp-proxy.ts):
 *  - this project at its defaults: the native UdpClient against the reference UDP node (in a child
 *    process), 2/1 echo requests, ENCRYPTED (the cluster default);
 *  - ENet 1.3.17 (Debian libenet-dev), a C echo pair at ENet defaults (bench/anchors/enet_echo.c,
 *    built by bench/anchors/setup.sh), unencrypted;
 *  - udx-native (npm), one stream, echo server in a child process (bench/lib/udx-echo.ts), unencrypted.
 * Each datagram either way: dropped / duplicated / held for reordering as the condition says, and
 * delayed 5-35 ms. Per run: total time (first send to last echo), latency p50/p99/max, missing,
 * duplicated and out-of-order echoes, datagrams and bytes sent per direction (as the proxy received
 * them, before faults). Medians over seeds are printed; every run goes to bench/results.
 *
 * With --census, each project run also prints what it put on the wire (bench/lib/wire-census.ts:
 * DATs, their fill, ACK datagrams and records, DATs in flight every 25 ms), the CPU time of this
 * process (client and proxy) and of the node's process, and this process's event-loop delay.
 *
 *   bash bench/anchors/setup.sh && npm run build:ts && node dist/bench/udp-loss.js [--seeds 3] [--messages 2000] [--only '15 %'] [--census]
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getEndpoint, UdpClient } from '../src/client';
import { formatTable } from '../src/cli/table';
import type { DirectionFaults } from '../test/helpers/udp-proxy';
import { ClusterChild, startClusterChild } from './lib/cluster-process';
import { writeResult } from './lib/results';
import { fmt, median } from './lib/stats';
import { EchoResult, startUdxEchoServer, udxEchoClient } from './lib/udx-echo';
import { ProxyProcess, startProxyProcess } from './lib/proxy-process';
import type { Census } from './lib/wire-census';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : def;
}
const SEEDS = arg('seeds', 3);
const MESSAGES = arg('messages', 2000);
const SIZE = 16;
const CENSUS = process.argv.includes('--census');
/** A peer that acknowledges later than this after a DAT could have reached it held it (its ACK pace is 4 ms). */
const PEER_HOLD_MS = 20;
const ENET = join(__dirname, '..', '..', 'build', 'bench', 'enet_echo');

const DELAY: DirectionFaults = { delayMs: 5, jitterMs: 30 };
const ALL_CONDITIONS: { name: string; faults: DirectionFaults }[] = [
  { name: '0 % loss (baseline)', faults: { ...DELAY } },
  { name: '5 % loss', faults: { ...DELAY, lossPct: 5 } },
  { name: '15 % loss', faults: { ...DELAY, lossPct: 15 } },
  { name: '15 % loss + 15 % dup + 20 % reorder', faults: { ...DELAY, lossPct: 15, duplicatePct: 15, reorderPct: 20 } },
];
const only = process.argv.indexOf('--only');
const CONDITIONS = only >= 0 ? ALL_CONDITIONS.filter((c) => c.name.startsWith(process.argv[only + 1] ?? '')) : ALL_CONDITIONS;

type Impl = 'project (encrypted)' | 'ENet 1.3.17' | 'udx-native';
interface Run extends EchoResult {
  impl: Impl;
  condition: string;
  seed: number;
  upDatagrams: number;
  downDatagrams: number;
  upBytes: number;
  downBytes: number;
  /** CPU time of the proxy's process over the run (connect included). */
  proxyCpuMs: number;
}

let proxies: ProxyProcess;

async function throughProxy(target: number, faults: DirectionFaults, seed: number, body: (port: number, mark: () => Promise<void>) => Promise<EchoResult>, census = false): Promise<Omit<Run, 'impl' | 'condition' | 'seed'> & { census?: Census }> {
  const port = await proxies.open({ seed, targetPort: target, faults, census });
  let base = { up: 0, down: 0, upB: 0, downB: 0 };
  const mark = async (): Promise<void> => {
    const c = await proxies.mark();
    base = { up: c.toServer.received, down: c.toClient.received, upB: c.toServer.bytes, downB: c.toClient.bytes };
  };
  const r = await body(port, mark).catch(async (e: unknown) => {
    await proxies.close();
    throw e;
  });
  const closed = await proxies.close();
  const c = closed.counters;
  return {
    ...r,
    upDatagrams: c.toServer.received - base.up,
    downDatagrams: c.toClient.received - base.down,
    upBytes: c.toServer.bytes - base.upB,
    downBytes: c.toClient.bytes - base.downB,
    proxyCpuMs: closed.cpuMs,
    census: closed.census,
  };
}

async function projectRun(cluster: ClusterChild, faults: DirectionFaults, seed: number): Promise<Omit<Run, 'impl' | 'condition' | 'seed'>> {
  const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: `loss-${seed}-${Math.random()}` });
  const cpu0 = { self: process.cpuUsage(), node: CENSUS ? await cluster.stats() : undefined };
  const lag = monitorEventLoopDelay({ resolution: 1 });
  if (CENSUS) lag.enable();
  const { census: c, ...r } = await throughProxy(ep.serverPort, faults, seed, async (port, mark) => {
    const client = new UdpClient({ requestTimeoutMs: 120_000 }); // transport at its defaults
    await client.connect({ ...ep, serverPort: port });
    await mark();
    const lat: number[] = [];
    let ooo = 0;
    let end = 0;
    const start = performance.now();
    const all: Promise<void>[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const b = Buffer.alloc(SIZE);
      b.writeUInt32LE(i, 0);
      const t = performance.now();
      all.push(
        client.request(2, 1, b).then((r) => {
          end = performance.now();
          if (r.payload.readUInt32LE(0) !== i) ooo++;
          lat.push(end - t);
        }),
      );
    }
    const settled = await Promise.allSettled(all);
    const missing = settled.filter((s) => s.status === 'rejected').length;
    await client.close();
    lat.sort((a, b) => a - b);
    const at = (p: number): number => (lat.length === 0 ? 0 : lat[Math.floor((lat.length - 1) * p)]);
    // Responses are matched first-in first-out: an echo out of order shows as a wrong index; a
    // duplicate would too (the transport delivers exactly once, so both stay 0 unless it breaks).
    return { totalMs: end - start, p50: at(0.5), p99: at(0.99), max: at(1), received: lat.length, missing, dup: 0, ooo };
  }, CENSUS);
  if (c !== undefined && cpu0.node !== undefined) {
    lag.disable();
    const self = process.cpuUsage(cpu0.self);
    const node = await cluster.stats();
    // Why each RDAT went, from the proxy's view (at 0 % loss every one is spurious): the peer
    // held the DAT (its first ACK record passed the proxy more than the path's worst one-way
    // delay + PEER_HOLD_MS after the DAT did), the ACK had passed the proxy before the resend (on
    // its way to the sender, or the sender's loop late to read it), or neither (the sender's
    // reorder window or probe undercut the path's jitter); lost DATs have no ACK before the RDAT.
    const oneWay = (faults.delayMs ?? 0) + (faults.jitterMs ?? 0);
    const causes = (d: typeof c.toServer): string => {
      if ((faults.lossPct ?? 0) > 0) return ''; // a dropped DAT's first ACK answers its RDAT: no telling
      let held = 0;
      let onTheWay = 0;
      let early = 0;
      let unacked = 0;
      for (const x of d.resends) {
        if (x.ackAfterDat === null || x.ackAfterResend === null) unacked++;
        else if (x.ackAfterDat > oneWay + PEER_HOLD_MS) held++;
        else if (x.ackAfterResend < 0) onTheWay++;
        else early++;
      }
      return `; RDATs: peer held >${PEER_HOLD_MS} ms ${held}, ACK past the proxy ${onTheWay}, neither ${early}, no ACK before ${unacked}`;
    };
    const dir = (name: string, d: typeof c.toServer): string =>
      `  ${name}: DAT ${d.dats} (${d.fullDats} >=90 % full, mean fill ${(d.fill * 100).toFixed(0)} %), RDAT ${d.rdats}, ACK datagrams ${d.ackDatagrams} ` +
      `(${(d.ackRecords / Math.max(1, d.ackDatagrams)).toFixed(1)} records each), other ${d.other}; DATs ${d.firstDatMs.toFixed(0)}-${d.lastDatMs.toFixed(0)} ms; ` +
      `in flight max ${d.maxInFlight}; every ${c.step} ms: in flight ${d.inFlight.join(' ')} | DATs ${d.datsPerStep.join(' ')} | RDATs ${d.rdatsPerStep.join(' ')}; acknowledged last: ${d.slowest.join(' | ')}${causes(d)}\n`;
    process.stderr.write(
      `census seed ${seed} ${JSON.stringify(faults)}: total ${r.totalMs.toFixed(0)} ms; CPU: client process ${((self.user + self.system) / 1000).toFixed(0)} ms, proxy ${r.proxyCpuMs.toFixed(0)} ms, ` +
        `node process ${(node.cpuUserMs + node.cpuSystemMs - cpu0.node.cpuUserMs - cpu0.node.cpuSystemMs).toFixed(0)} ms; ` +
        `client process's event-loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms\n` +
        dir('up  ', c.toServer) +
        dir('down', c.toClient),
    );
  }
  return r;
}

async function enetRun(faults: DirectionFaults, seed: number, serverPort: number): Promise<Omit<Run, 'impl' | 'condition' | 'seed'>> {
  return throughProxy(serverPort, faults, seed, async (port, mark) => {
    await mark(); // ENet's connect is part of its run; counted with the burst
    // Asynchronously: the proxy runs on this process's event loop.
    const { stdout } = await promisify(execFile)(ENET, ['client', '127.0.0.1', String(port), String(MESSAGES), String(SIZE)], { timeout: 180_000 });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as EchoResult;
  });
}

async function main(): Promise<void> {
  if (!existsSync(ENET)) throw new Error(`${ENET} missing: run bash bench/anchors/setup.sh first`);
  // Below Linux's ephemeral range (32768-60999): other processes' sockets there made the ENet server's bind fail.
  const enetPort = 20_000 + Math.floor(Math.random() * 10_000);
  const enet = spawn(ENET, ['server', String(enetPort)], { stdio: ['ignore', 'ignore', 'inherit'] });
  const udx = await startUdxEchoServer();
  proxies = startProxyProcess();
  const cluster = await startClusterChild({ tcpNodes: 0, udpNodes: 1 });
  const runs: Run[] = [];
  try {
    for (const c of CONDITIONS) {
      for (let seed = 1; seed <= SEEDS; seed++) {
        // Interleaved: the three see the same machine load, one after another, same seed.
        runs.push({ impl: 'project (encrypted)', condition: c.name, seed, ...(await projectRun(cluster, c.faults, seed)) });
        runs.push({ impl: 'ENet 1.3.17', condition: c.name, seed, ...(await enetRun(c.faults, seed, enetPort)) });
        runs.push({ impl: 'udx-native', condition: c.name, seed, ...(await throughProxy(udx.port, c.faults, seed, async (port, mark) => (await mark(), udxEchoClient(port, MESSAGES, SIZE)))) });
        process.stderr.write(`${c.name} seed ${seed} done\n`);
      }
    }
  } finally {
    enet.kill();
    udx.stop();
    proxies.stop();
    await cluster.stop();
  }
  const rows: string[][] = [];
  for (const c of CONDITIONS) {
    for (const impl of ['project (encrypted)', 'ENet 1.3.17', 'udx-native'] as Impl[]) {
      const rs = runs.filter((r) => r.condition === c.name && r.impl === impl);
      const m = (k: keyof EchoResult | 'upDatagrams' | 'downDatagrams' | 'upBytes' | 'downBytes'): number => median(rs.map((r) => r[k] as number));
      rows.push([
        c.name,
        impl,
        fmt(m('totalMs') / 1000, 2),
        fmt(m('p50'), 0),
        fmt(m('p99'), 0),
        fmt(m('max'), 0),
        `${rs.reduce((s, r) => s + r.missing, 0)}/${rs.reduce((s, r) => s + r.dup, 0)}/${rs.reduce((s, r) => s + r.ooo, 0)}`,
        `${fmt(m('upDatagrams'), 0)} / ${fmt(m('downDatagrams'), 0)}`,
        `${fmt(m('upBytes') / 1024, 0)} / ${fmt(m('downBytes') / 1024, 0)}`,
      ]);
    }
  }
  process.stdout.write(
    `\n${MESSAGES} reliable ${SIZE}-byte echoes at once, each datagram delayed 5-35 ms each way; medians of ${SEEDS} seeds (missing/dup/ooo: sums)\n` +
      formatTable(['condition', 'implementation', 'total s', 'p50 ms', 'p99 ms', 'max ms', 'miss/dup/ooo', 'datagrams up / down', 'KiB up / down'], rows) +
      '\n',
  );
  process.stdout.write(`results: ${writeResult('udp-loss', { messages: MESSAGES, size: SIZE, seeds: SEEDS, runs })}\n`);
}

void main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
