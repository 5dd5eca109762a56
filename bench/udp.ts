/**
 * bench/udp: the native UdpClient over RUDP, in one run.
 *
 * 1. Reliable-message latency (64-byte 2/1 echo, one in flight) through the seeded proxy at 25 ms
 *    each way (50 ms round trip), at 0 % and 10 % loss each way, with the adaptive resend interval
 *    (SRTT + 4 RTTVAR, >= 100 ms) and with the wire default (fixed 1000 ms start, doubling to 8000),
 *    side by side: p50/p99. Client and node use the same policy. Cluster and proxy in this process.
 * 2. Reliable throughput (messages/s, all pipelined) for 64-byte and 4 KiB (fragmented) messages
 *    through the same proxy without loss.
 * 3. Many UdpClients at once in this process against UDP nodes in a child process: memory per
 *    session (RSS delta / clients) and the share of echoes answered on time over a window
 *    (echo events vs clients x window / interval, and the heartbeatsSent counters).
 *
 * 4. Client CPU per message (`--cpu-only`, also part of the full run): the native UdpClient on each
 *    driver (io 'loop', io 'thread') beside the pure-TypeScript RUDP client (test/helpers), 64-byte
 *    encrypted reliable echo at 1, 8 and 64 in flight and a swarm at 1 each, direct to a node in a
 *    child process, each measurement in its own process, kinds interleaved, medians of `--rounds`.
 *    `--baseline <dir>` (a tree built by bench/build-baseline.sh) adds that commit's UdpClient on
 *    each driver as rows of the same run (baseline-loop, baseline-thread). The C floor
 *    (bench/c-floor/udp_echo_floor.c, built here) is a row at 1, 8 and 64 in flight, and every row
 *    gets its CPU over the floor's of the same round (median of the per-round ratios). The Node
 *    floors (node-floor, crypto-floor, promise-floor: the C floor's client on Node's loop, with and
 *    without its OpenSSL work, and with a promise per request; bench/lib/udp-cpu.ts) are rows too. Every
 *    sample (every kind alike) follows `--cpu-warmup` echoes (default 20,000) in its own process:
 *    V8 is still compiling the client's JavaScript up to about 10,000 echoes (its compiler threads
 *    and slower code on the main thread), and a shorter warm-up puts that into the measured echoes
 *    of the native and TypeScript rows (bench/udp-sample-length.ts; docs/decisions.md, "Issue 9:
 *    UDP bench sample length").
 *
 * Throughput runs three paths side by side (proxy with OS-default buffers, proxy with 4 MiB
 * buffers, direct without the proxy), `--repeat` rounds interleaved, medians reported.
 *
 *   node dist/bench/udp.js [--quick] [--samples 200] [--messages 2000] [--clients 10000] [--nodes 4]
 *                          [--repeat 3] [--throughput-only] [--sessions-only [--node-wire] [--trace] [--client-defaults] [--entry-keepalive]]
 *                          [--cpu-only] [--rounds 3] [--cpu-messages 10000] [--cpu-warmup 20000] [--swarm 200] [--baseline <dir>]
 *                          [--kinds native-loop,baseline-loop,c-floor,...] [--depths 1,8,64,0 (0: the swarm)]
 */
import { getEndpoint, UdpClient, type UdpClientOptions } from '../src/client';
import { startCluster } from '../src/server';
import { UdpProxy } from '../test/helpers/udp-proxy';
import { formatTable } from '../src/cli/table';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startClusterChild, type ClusterChildStats } from './lib/cluster-process';
import { writeResult } from './lib/results';
import { LivenessDiag } from './lib/liveness-diag';
import { stringArg } from './lib/args';
import { cpuTable, printCpu } from './lib/udp-cpu';
import { fmt, percentile } from './lib/stats';

const quick = process.argv.includes('--quick');
function arg(name: string, full: number, small: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : quick ? small : full;
}

const ONE_WAY_MS = 25;
type Policy = 'adaptive' | 'fixed-1000';
const POLICIES: Record<Policy, { adaptive: boolean; retryMinMs: number; retryMaxMs: number; maxRetries: number }> = {
  adaptive: { adaptive: true, retryMinMs: 1000, retryMaxMs: 8000, maxRetries: 10 },
  'fixed-1000': { adaptive: false, retryMinMs: 1000, retryMaxMs: 8000, maxRetries: 10 },
};

interface Rig { client: UdpClient; proxy: UdpProxy; stop(): Promise<void> }

/** How the throughput client reaches the node: through the proxy (OS-default or large buffers) or directly. */
type Path = 'proxy, OS buffers' | 'proxy, 4 MiB buffers' | 'direct';
const PROXY_BUFFER_BYTES = 4 << 20;

async function rig(policy: Policy, lossPct: number, seed: number, extra: UdpClientOptions = {}, path: Path = 'proxy, 4 MiB buffers'): Promise<Rig> {
  const p = POLICIES[policy];
  const cluster = await startCluster({ tcpNodes: 0, udpNodes: 1, udp: { ...p, rtoMinMs: 100, connectionTtlMs: 120_000 } });
  const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: `bench-${policy}-${lossPct}-${seed}` });
  const faults = { lossPct, delayMs: path === 'direct' ? 0 : ONE_WAY_MS };
  const proxy = await UdpProxy.start({
    seed,
    target: { host: ep.serverHost, port: ep.serverPort },
    toServer: faults,
    toClient: faults,
    // A pipelined burst is hundreds of datagrams at once: the OS default (~208 KiB) drops them silently.
    socketBufferBytes: path === 'proxy, OS buffers' ? undefined : PROXY_BUFFER_BYTES,
  });
  const client = new UdpClient({
    retryMinMs: p.retryMinMs,
    retryMaxMs: p.retryMaxMs,
    maxRetries: p.maxRetries,
    adaptiveRetry: p.adaptive,
    rtoMinMs: 100,
    // The echo shares the reliable channel with a pipelined burst: do not let a busy machine end the run.
    echoMissLimit: 20,
    synIntervalMs: 200,
    connectTimeoutMs: 30_000,
    requestTimeoutMs: 120_000,
    ...extra,
  });
  await client.connect(path === 'direct' ? ep : { ...ep, serverPort: proxy.port });
  return {
    client,
    proxy,
    stop: async () => {
      await client.close();
      await proxy.close();
      await cluster.stop();
    },
  };
}

interface Latency { policy: Policy; lossPct: number; samples: number; p50Ms: number; p99Ms: number; maxMs: number; retransmits: number }

async function latency(policy: Policy, lossPct: number, samples: number): Promise<Latency> {
  const r = await rig(policy, lossPct, 11);
  const body = Buffer.alloc(64, 7);
  // Warm-up: the adaptive estimate needs a few round trips, like any session's first seconds.
  for (let i = 0; i < 10; i++) await r.client.request(2, 1, body);
  const retx0 = r.client.stats().retransmits;
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await r.client.request(2, 1, body);
    times.push(performance.now() - t0);
  }
  const retransmits = r.client.stats().retransmits - retx0;
  await r.stop();
  return { policy, lossPct, samples, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: Math.max(...times), retransmits };
}

interface Throughput {
  path: Path; bytes: number; messages: number; seconds: number; perSecond: number;
  /** Client resends during the run (no loss is injected: every one is a kernel drop or a spurious resend). */
  retransmits: number;
  /** Client datagrams the proxy never saw (dropped in its receive buffer); 0 when direct. */
  lostAtProxy: number;
}

async function throughput(bytes: number, messages: number, path: Path): Promise<Throughput> {
  const r = await rig('adaptive', 0, 12, { sendWindow: 1024 }, path);
  const body = Buffer.alloc(bytes, 9);
  // Warm-up: a few RTT samples, so the adaptive resend interval is not the 1000 ms start.
  for (let i = 0; i < 5; i++) await r.client.request(2, 1, body);
  const s0 = r.client.stats();
  const p0 = r.proxy.counters.toServer.received;
  const t0 = performance.now();
  const all: Promise<unknown>[] = [];
  for (let i = 0; i < messages; i++) all.push(r.client.request(2, 1, body));
  await Promise.all(all);
  const seconds = (performance.now() - t0) / 1000;
  const s1 = r.client.stats();
  const lostAtProxy = path === 'direct' ? 0 : s1.packetsSent - s0.packetsSent - (r.proxy.counters.toServer.received - p0);
  await r.stop();
  return { path, bytes, messages, seconds, perSecond: messages / seconds, retransmits: s1.retransmits - s0.retransmits, lostAtProxy };
}

const PATHS: Path[] = ['proxy, OS buffers', 'proxy, 4 MiB buffers', 'direct'];

/** Every path and size, `repeat` rounds interleaved (so machine noise hits all alike); medians reported. */
async function throughputAll(messages: number, repeat: number): Promise<Throughput[]> {
  const runs = new Map<string, Throughput[]>();
  for (let k = 0; k < repeat; k++) {
    for (const [bytes, n] of [[64, messages], [4096, Math.ceil(messages / 2)]] as const) {
      for (const path of PATHS) {
        const t = await throughput(bytes, n, path);
        const key = `${path}|${bytes}`;
        runs.set(key, [...(runs.get(key) ?? []), t]);
      }
    }
  }
  return [...runs.values()].map((ts) => {
    const sorted = [...ts].sort((a, b) => a.perSecond - b.perSecond);
    return sorted[Math.floor(sorted.length / 2)];
  });
}

interface Swarm {
  clients: number; connected: number; nodes: number; connectSeconds: number; rssDeltaMiB: number; bytesPerSession: number;
  echoIntervalMs: number; windowSeconds: number; echoesExpected: number; echoesReceived: number; onTimeShare: number;
  heartbeatsSent: number; heartbeatsAnswered: number; disconnects: number; disconnectReasons: Record<string, number>;
  /** Why the clients that did not connect failed (endpoint API or connect error codes). */
  connectFailures: Record<string, number>;
  /** Client-side counters summed over every client (receive pauses, refused DATs, drops by reason). */
  clientTotals: Record<string, number>;
  /** This (client) process: CPU over the run and its event-loop delay. */
  clientCpuMs: number; clientLoopDelayP99Ms: number; clientLoopDelayMaxMs: number;
  /** The cluster child's view (session end reasons, node drops, CPU, event-loop delay). */
  cluster: ClusterChildStats | null;
  loadAverage: number[];
  /** --trace: the sessions that ended with "no echo answer" (bench/lib/liveness-diag.ts). */
  silentSessions?: Record<string, unknown>;
}

/** Every client's counters summed (nonzero only): a client-side refusal or drop shows here. */
function clientTotals(list: UdpClient[]): Record<string, number> {
  const t: Record<string, number> = {};
  const add = (k: string, v: number): void => {
    if (v !== 0) t[k] = (t[k] ?? 0) + v;
  };
  for (const c of list) {
    const s = c.stats();
    for (const k of ['packetsSent', 'packetsReceived', 'retransmits', 'sendDropped', 'receivePauses', 'receiveDeferred', 'undeliveredBytes'] as const) add(k, s[k]);
    for (const [k, v] of Object.entries(s.drops)) add(`drops.${k}`, v);
  }
  return t;
}

async function swarm(clients: number, nodes: number, echoIntervalMs: number, windowSeconds: number, clientDefaults = false): Promise<Swarm> {
  const retry = process.argv.includes('--node-wire') ? 'wire' : undefined;
  const cluster = await startClusterChild({ tcpNodes: 0, udpNodes: nodes, encryption: true, ...(retry ? { udpRetry: retry } : {}) });
  const list: UdpClient[] = [];
  let echoes = 0;
  let disconnects = 0;
  const reasons = new Map<string, number>();
  const failures = new Map<string, number>();
  const fail = (k: string): void => void failures.set(k, (failures.get(k) ?? 0) + 1);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const diag = process.argv.includes('--trace') ? new LivenessDiag() : null;
  // --entry-keepalive: getEndpoint's calls share a keep-alive agent (default: a connection per call).
  const agent = process.argv.includes('--entry-keepalive') ? new http.Agent({ keepAlive: true }) : undefined;
  const trace = diag !== null ? startTrace(list, cluster, diag, failures) : null;
  try {
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    // Spread the connects: a batch at a time, so neither the entry server nor the nodes see a burst.
    const batch = 250;
    for (let i = 0; i < clients; i += batch) {
      const n = Math.min(batch, clients - i);
      await Promise.all(
        Array.from({ length: n }, async (_, k) => {
          // --client-defaults: the echo cadence and miss limit a user gets (5 s, 3 misses).
          const echo = clientDefaults ? {} : { echoIntervalMs, echoMissLimit: 5 };
          const c = new UdpClient({ ...echo, connectTimeoutMs: 60_000, synIntervalMs: 500 });
          c.on('echo', () => echoes++);
          c.on('disconnect', (code: string, message: string) => {
            disconnects++;
            const k = `${code}: ${message}`;
            reasons.set(k, (reasons.get(k) ?? 0) + 1);
          });
          list.push(c);
          diag?.watch(c);
          // A busy entry server may not answer in time: tried three times, then counted as not connected.
          for (let attempt = 0; attempt < 3; attempt++) {
            const tEp = performance.now();
            const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: `swarm-${i + k}`, ...(agent ? { agent } : {}) }).catch((err: unknown) => {
              fail(`endpoint: ${errorKey(err)}`);
              return undefined;
            });
            diag?.endpointMs.push(performance.now() - tEp);
            if (ep === undefined) continue;
            const tHs = performance.now();
            await c.connect(ep).catch((err: unknown) => fail(`connect: ${errorKey(err)}`));
            diag?.handshakeMs.push(performance.now() - tHs);
            break;
          }
        }),
      );
    }
    const connectSeconds = (performance.now() - t0) / 1000;
    global.gc?.();
    const rss1 = process.memoryUsage().rss;
    const connected = list.filter((c) => c.state === 'connected').length;
    // Let the echo phases spread out, then count over the window.
    await new Promise((r) => setTimeout(r, echoIntervalMs * 2));
    const sum = (k: 'heartbeatsSent' | 'heartbeatsAnswered'): number => list.reduce((a, c) => a + c.stats()[k], 0);
    const hb0 = sum('heartbeatsSent');
    const ha0 = sum('heartbeatsAnswered');
    const e0 = echoes;
    await new Promise((r) => setTimeout(r, windowSeconds * 1000));
    const echoesReceived = echoes - e0;
    const echoesExpected = Math.floor((connected * windowSeconds * 1000) / echoIntervalMs);
    const cpu = process.cpuUsage(cpu0);
    return {
      clients, connected, nodes, connectSeconds,
      rssDeltaMiB: (rss1 - rss0) / 2 ** 20,
      bytesPerSession: connected > 0 ? (rss1 - rss0) / connected : Number.NaN,
      echoIntervalMs, windowSeconds, echoesExpected, echoesReceived,
      onTimeShare: echoesExpected > 0 ? echoesReceived / echoesExpected : Number.NaN,
      heartbeatsSent: sum('heartbeatsSent') - hb0,
      heartbeatsAnswered: sum('heartbeatsAnswered') - ha0,
      disconnects,
      disconnectReasons: Object.fromEntries(reasons),
      connectFailures: Object.fromEntries(failures),
      clientTotals: clientTotals(list),
      clientCpuMs: (cpu.user + cpu.system) / 1000,
      clientLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      clientLoopDelayMaxMs: loopDelay.max / 1e6,
      cluster: await cluster.stats().catch(() => null),
      loadAverage: loadavg(),
      ...(diag !== null ? { silentSessions: diag.summary() } : {}),
    };
  } finally {
    if (trace !== null) clearInterval(trace);
    agent?.destroy();
    await Promise.all(list.map((c) => c.close()));
    await cluster.stop();
  }
}

/** Kernel UDP counters (all processes): receive-buffer overflows are datagrams nobody read. */
function udpSnmp(): Record<string, number> {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = lines[0].split(/\s+/).slice(1);
  const vals = lines[1].split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]]));
}

/** --trace: once a second on stderr, both sides' resend counters (who starts a storm, and which kind). */
function startTrace(
  list: UdpClient[], cluster: { stats(): Promise<ClusterChildStats> }, diag: LivenessDiag, failures: Map<string, number>,
): NodeJS.Timeout {
  const t0 = performance.now();
  const k0 = udpSnmp();
  let busy = false;
  return setInterval(() => {
    if (busy) return;
    busy = true;
    const echoLine = diag.sampleAll();
    let retx = 0;
    let sent = 0;
    let connected = 0;
    for (const c of list) {
      const s = c.stats();
      retx += s.retransmits;
      sent += s.packetsSent;
      if (c.state === 'connected') connected++;
    }
    const k = udpSnmp();
    void cluster.stats().then((cs) => {
      const d = cs.rudpDiag ?? {};
      const td = cs.timerDiag ?? {};
      process.stderr.write(`trace ${((performance.now() - t0) / 1000).toFixed(1)}s conn=${connected}/${list.length} ` +
        `client sent=${sent} retx=${retx} | node unread=${sent - (td.datagramsIn ?? 0)} in=${td.datagramsIn} out=${td.datagramsOut} rto=${d.rtoEvt} rtoRe=${d.rtoResend} ` +
        `tlp=${d.tlpResend} rack=${d.rackResend} spur=${d.spurious} late20=${td.late20} | rcvbufErr=${k.RcvbufErrors - k0.RcvbufErrors} | ` +
        `${echoLine} | connect failures ${JSON.stringify(Object.fromEntries(failures))}\n`);
    }).catch(() => undefined).finally(() => { busy = false; });
  }, 1000);
}

function errorKey(err: unknown): string {
  if (err instanceof Error) return (err as Error & { code?: string }).code ?? err.message.slice(0, 60);
  return String(err).slice(0, 60);
}

async function main(): Promise<void> {
  const samples = arg('samples', 200, 60);
  const messages = arg('messages', 2000, 500);
  const clients = arg('clients', 10_000, 1000);
  const nodes = arg('nodes', 4, 2);
  const repeat = arg('repeat', 3, 1);
  if (process.argv.includes('--throughput-only')) {
    printThroughput(await throughputAll(messages, repeat), repeat);
    return;
  }
  const rounds = arg('rounds', 3, 1);
  const cpuMessages = arg('cpu-messages', 10_000, 2000);
  // The quick run keeps the old 2000 (its figures are a smoke test, not a comparison).
  const cpuWarmup = arg('cpu-warmup', 20_000, 2000);
  const cpuSwarm = arg('swarm', 200, 50);
  if (process.argv.includes('--cpu-only')) {
    const baseline = stringArg('baseline');
    const loadStart = loadavg();
    const { rows, samples } = await cpuTable(rounds, cpuMessages, cpuWarmup, cpuSwarm, baseline);
    printCpu(rows, rounds, cpuWarmup, loadStart);
    console.log(`\nwrote ${writeResult('udp-cpu', { rounds, messages: cpuMessages, warmup: cpuWarmup,
      loadAverage: { start: loadStart, end: loadavg() }, baseline: baseline ?? null, rows, samples })}`);
    return;
  }
  if (process.argv.includes('--sessions-only')) {
    const defaults = process.argv.includes('--client-defaults');
    const sw = await swarm(clients, nodes, defaults ? 5000 : 2000, quick ? 6 : 10, defaults);
    console.log(JSON.stringify(sw, null, 1));
    return;
  }
  const lat: Latency[] = [];
  for (const lossPct of [0, 10]) {
    for (const policy of ['adaptive', 'fixed-1000'] as const) {
      lat.push(await latency(policy, lossPct, samples));
      process.stderr.write(`latency ${policy} ${lossPct} % done\n`);
    }
  }
  const thr = await throughputAll(messages, repeat);
  process.stderr.write('throughput done\n');
  const sw = await swarm(clients, nodes, 2000, quick ? 6 : 10);
  const { rows: cpu } = await cpuTable(rounds, cpuMessages, cpuWarmup, cpuSwarm);

  console.log(`\nUDP reliable latency, 64-byte echo, ${2 * ONE_WAY_MS} ms round trip via the proxy, ${samples} samples each\n`);
  console.log(
    formatTable(
      ['loss each way', 'retry policy', 'p50 ms', 'p99 ms', 'max ms', 'retransmits'],
      lat.map((l) => [`${l.lossPct} %`, l.policy, fmt(l.p50Ms), fmt(l.p99Ms), fmt(l.maxMs), l.retransmits]),
    ),
  );
  printThroughput(thr, repeat);
  console.log(`\nUDP sessions at once: ${sw.connected}/${sw.clients} connected to ${sw.nodes} nodes (child process) in ${fmt(sw.connectSeconds)} s\n`);
  console.log(
    formatTable(
      ['RSS delta MiB', 'KiB/session', 'echo interval', 'window s', 'echoes expected', 'received', 'on time', 'heartbeats sent', 'answered', 'disconnects'],
      [[fmt(sw.rssDeltaMiB), fmt(sw.bytesPerSession / 1024, 1), `${sw.echoIntervalMs} ms`, sw.windowSeconds, sw.echoesExpected, sw.echoesReceived,
        `${fmt(sw.onTimeShare * 100)} %`, sw.heartbeatsSent, sw.heartbeatsAnswered, sw.disconnects]],
    ),
  );
  printCpu(cpu, rounds, cpuWarmup);
  const file = writeResult('udp', { quick, oneWayDelayMs: ONE_WAY_MS, latency: lat, throughput: thr, swarm: sw, cpu });
  console.log(`\nwrote ${file}`);
}

function printThroughput(thr: Throughput[], repeat: number): void {
  console.log(`\nUDP reliable throughput (pipelined, sendWindow 1024, no loss; proxy 50 ms round trip; median of ${repeat})\n`);
  console.log(
    formatTable(
      ['path', 'message', 'messages', 'seconds', 'msgs/s', 'retransmits', 'lost at proxy'],
      thr.map((t) => [t.path, `${t.bytes} B`, t.messages, fmt(t.seconds, 2), fmt(t.perSecond, 0), t.retransmits, t.lostAtProxy]),
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
