/**
 * One measurement of bench/tcp-throughput, in its own process (so each row's CPU is its own, and
 * a baseline addon can be loaded through DIARKIS_NODE_ADDON). Prints one JSON Sample line.
 *
 *   node tcp-echo-child.js <kind> <entryUrl> <depth> <messages> <clients> <uidPrefix> [warmup]
 *
 * warmup: echoes driven before the measured ones, in two calls of the driver (default: min(2000,
 * messages) in one call, as bench/tcp-throughput has always measured).
 *
 * kind: native-loop | native-stream | native-thread | native-baseline | baseline-loop | baseline-stream | baseline-thread |
 * typescript (baseline-*: the baseline's client on that driver; native-stream: the loop driver
 * driven by send() and 'response' events, no promise per message, as a load-test bot may). `clients` > 1 is the swarm:
 * that many clients in this one process, each with `depth` requests in flight, sharing `messages`.
 * DIARKIS_BENCH_TRANSPORT=UDP: the UdpClient (reliable requests; native-stream: reliable send()) and the pure-TS RUDP client.
 */
import * as path from 'node:path';
import * as current from '../../src';
import { fetchEndpoint, TsTcpClient } from '../../test/helpers/ts-tcp-client';
import { TsUdpClient } from '../../test/helpers/ts-udp-client';

// native-baseline: the baseline commit's own client and addon (DIARKIS_BENCH_BASELINE: its source
// tree, built by bench/build-baseline.sh); every other kind: this tree's.
const baselineDir = process.env.DIARKIS_BENCH_BASELINE;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const lib: typeof current = baselineDir ? require(path.join(baselineDir, 'dist', 'src')) : current;
const { getEndpoint, pumpStats, TcpClient, UdpClient } = lib;
const udp = process.env.DIARKIS_BENCH_TRANSPORT === 'UDP';

export interface EchoSample {
  kind: string;
  depth: number;
  clients: number;
  messages: number;
  seconds: number;
  cpuUs: number;
  eventsPerCrossing: number;
  /** UDP: datagrams the clients sent / received per message (NaN where not counted). */
  sentPerMessage?: number;
  receivedPerMessage?: number;
  /** The UDP Node floors: wake-ups of their uv_poll_t per message. */
  wakeupsPerMessage?: number;
}

interface Requester {
  request(ver: number, cmd: number, body: Uint8Array): Promise<{ status: number }>;
  /** native-stream: send() without a promise, and a 'response' listener that sends the next one. */
  stream?(next: () => boolean, done: () => void): { start(): void };
  close(): Promise<void>;
  /** Datagrams sent and received so far (UDP); undefined where the client does not count them. */
  datagrams?(): { sent: number; received: number };
}

/**
 * native-stream: echoes by rsend() and 'response' events (no promise per message), each answer
 * sending the next. rsend: reliable on UDP (as request()); on TCP the same call as send().
 */
function streamOf(client: { rsend(ver: number, cmd: number, b: Uint8Array): boolean; on(e: 'response', f: (ver: number, cmd: number, status: number) => void): unknown;
  off(e: 'response', f: (ver: number, cmd: number, status: number) => void): unknown }): NonNullable<Requester['stream']> {
  const body = Buffer.alloc(64, 7);
  return (next, done) => {
    let inFlight = 0;
    const onResponse = (ver: number, cmd: number, status: number): void => {
      if (ver !== 2 || cmd !== 1) return;
      if (status !== 1) throw new Error(`echo answered status ${status}`);
      inFlight--;
      if (next()) {
        inFlight++;
        client.rsend(2, 1, body);
      } else if (inFlight === 0) {
        client.off('response', onResponse);
        done();
      }
    };
    client.on('response', onResponse);
    return {
      start: () => {
        inFlight++;
        client.rsend(2, 1, body);
      },
    };
  };
}

async function open(kind: string, entryUrl: string, uid: string): Promise<Requester> {
  if (udp) {
    if (kind === 'typescript') {
      let sent = 0;  // the anchor's own hook: one call per datagram, nothing else added to its path
      const c = await TsUdpClient.connect(await fetchEndpoint(entryUrl, 'UDP', uid), { onDatagramOut: () => void sent++ });
      return {
        request: (v, cmd, b) => c.request(v, cmd, b),
        close: async () => void (await c.close()),
        datagrams: () => ({ sent, received: Number.NaN }),
      };
    }
    const client = new UdpClient({ requestTimeoutMs: 120_000, io: kind.endsWith('loop') || kind === 'native-stream' ? 'loop' : 'thread' });
    await client.connect(await getEndpoint(entryUrl, { type: 'UDP', uid }));
    return {
      request: (v, cmd, b) => client.request(v, cmd, b),
      close: () => client.close(),
      datagrams: () => {
        const s = client.stats();
        return { sent: s.packetsSent, received: s.packetsReceived };
      },
      ...(kind === 'native-stream' ? { stream: streamOf(client) } : {}),
    };
  }
  if (kind === 'typescript') {
    const c = await TsTcpClient.connect(await fetchEndpoint(entryUrl, 'TCP', uid));
    return { request: (v, cmd, b) => c.request(v, cmd, b), close: () => c.close() };
  }
  // native-baseline: the baseline's client on its network thread; baseline-loop: on its loop driver.
  // baseline-stream: the baseline's client on its loop driver, driven as native-stream (the A/B of that row).
  const streamed = kind === 'native-stream' || kind === 'baseline-stream';
  const io = kind === 'native-loop' || streamed || kind === 'baseline-loop' ? 'loop' : 'thread';
  const client = new TcpClient({ requestTimeoutMs: 120_000, io });
  await client.connect(await getEndpoint(entryUrl, { type: 'TCP', uid }));
  const r: Requester = { request: (v, cmd, b) => client.request(v, cmd, b), close: () => client.close() };
  if (streamed) r.stream = streamOf(client);
  return r;
}

async function drive(clients: Requester[], depth: number, messages: number): Promise<void> {
  const body = Buffer.alloc(64, 7);
  let started = 0;
  const lane = async (c: Requester): Promise<void> => {
    while (started < messages) {
      started++;
      const res = await c.request(2, 1, body);
      if (res.status !== 1) throw new Error(`echo answered status ${res.status}`);
    }
  };
  const lanes: Promise<void>[] = [];
  for (const c of clients) {
    if (c.stream) {
      lanes.push(new Promise<void>((resolve) => {
        const next = (): boolean => started < messages && ++started > 0;
        const s = c.stream?.(next, resolve);
        for (let i = 0; i < depth && next(); i++) s?.start();
      }));
      continue;
    }
    for (let i = 0; i < depth; i++) lanes.push(lane(c));
  }
  await Promise.all(lanes);
}

async function main(): Promise<void> {
  const [kind, entryUrl, depthArg, messagesArg, clientsArg, prefix, warmupArg] = process.argv.slice(2);
  const depth = Number(depthArg);
  const messages = Number(messagesArg);
  const count = Number(clientsArg);
  const clients: Requester[] = [];
  for (let i = 0; i < count; i += 50) {
    // connect in groups, so that a swarm does not overflow the node's accept queue at once
    const group = Array.from({ length: Math.min(50, count - i) }, (_, j) => open(kind, entryUrl, `${prefix}-${i + j}`));
    clients.push(...(await Promise.all(group)));
  }
  if (warmupArg === undefined) {
    await drive(clients, depth, Math.min(2000, messages)); // warm-up (JIT, buffers)
  } else {
    // An explicit warm-up drives twice: V8 specialises its first optimised code to drive()'s first
    // closures and compiles again when a second set appears; that must happen here, not in the
    // measured call (bench/udp-sample-length showed it there: ~20 ms of CPU per sample).
    const warmup = Number(warmupArg);
    await drive(clients, depth, Math.ceil(warmup / 2));
    await drive(clients, depth, Math.floor(warmup / 2));
  }
  const datagrams = (): { sent: number; received: number } => clients.reduce((a, c) => {
    const d = c.datagrams?.() ?? { sent: Number.NaN, received: Number.NaN };
    return { sent: a.sent + d.sent, received: a.received + d.received };
  }, { sent: 0, received: 0 });
  const d0 = datagrams();
  const pump0 = pumpStats();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await drive(clients, depth, messages);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const pump1 = pumpStats();
  const d1 = datagrams();
  await Promise.all(clients.map((c) => c.close()));
  const batches = pump1.batches - pump0.batches;
  const sample: EchoSample = {
    kind,
    depth,
    clients: count,
    messages,
    seconds,
    cpuUs: (cpu.user + cpu.system) / messages,
    eventsPerCrossing: kind !== 'typescript' && batches > 0 ? (pump1.events - pump0.events) / batches : Number.NaN,
    sentPerMessage: (d1.sent - d0.sent) / messages,
    receivedPerMessage: (d1.received - d0.received) / messages,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
