import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ManualClock, startCluster, type ClusterOptions } from '../src/server';
import { EndpointInfo, fetchEndpoint } from './helpers/ts-tcp-client';
import { TsUdpClient, TsUdpClientOptions } from './helpers/ts-udp-client';
import { UdpProxy } from './helpers/udp-proxy';

const RETRY = { retryMinMs: 40, retryMaxMs: 400, maxRetries: 30 } as const;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

async function cluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const c = await startCluster({ udpNodes: 2, tcpNodes: 0, udp: { ...RETRY, connectionTtlMs: 60_000 }, ...opts });
  cleanups.push(() => c.stop());
  return c;
}

async function connect(ep: EndpointInfo, o: TsUdpClientOptions = {}): Promise<TsUdpClient> {
  const cl = await TsUdpClient.connect(ep, { ...RETRY, synIntervalMs: 100, connectTimeoutMs: 20_000, ...o });
  cleanups.push(async () => (cl.closeReason === null ? cl.close() : undefined));
  return cl;
}

function nodeIdOfPort(c: Cluster, port: number): string {
  const n = c.nodes.find((x) => x.port === port);
  if (n === undefined) throw new Error(`no node on port ${port}`);
  return n.id;
}

/**
 * PROTOCOL 7.2-7.6 end to end: 2/4 sequence and 2/6 push stream across the move, direct pushes
 * before and after the handoff. `via` puts a proxy (e.g. lossy) in front of each node.
 */
async function streamAcrossMigration(via: (port: number) => Promise<number>): Promise<{ c: Cluster; from: string; to: string }> {
  const clock = new ManualClock();
  const c = await cluster({ clock });
  const handoffs: string[] = [];
  c.on('handoff', (e) => handoffs.push(`${e.from}->${e.to}`));
  const ep = await fetchEndpoint(c.entryUrl, 'UDP', 'alice');
  const from = nodeIdOfPort(c, ep.serverPort);

  // Pushes from both links land in one ordered log.
  const stream: number[] = [];
  const direct: number[] = [];
  const notices: Buffer[] = [];
  let streamDone = (): void => undefined;
  const streamComplete = new Promise<void>((r) => (streamDone = r));
  const onPush = (ver: number, cmd: number, p: Buffer): void => {
    if (ver === 2 && cmd === 6) {
      stream.push(p.readUInt32BE(0));
      if (stream.length === 150) streamDone();
    } else if (ver === 2 && cmd === 7) direct.push(p.readUInt32BE(0));
    else if (ver === 0 && cmd === 1) notices.push(p);
  };
  const old = await connect({ ...ep, serverPort: await via(ep.serverPort) }, { onPush });

  let seq = 0;
  const answers: Promise<{ status: number }>[] = [];
  for (let i = 0; i < 3; i++) answers.push(old.request(2, 2, Buffer.alloc(0)));
  for (; seq < 200; ) answers.push(old.request(2, 4, u32(++seq)));
  // 150 pushes, 1 ms apart: the stream runs across the move.
  expect((await old.request(2, 6, Buffer.from([0, 0, 0, 150, 0, 0, 0, 1]))).status).toBe(1);
  for (let k = 1; k <= 3; k++) expect(await c.push('alice', 2, 7, u32(k))).toBe(true);

  await c.setNodeState(from, 'offline');
  for (; seq < 400; ) answers.push(old.request(2, 4, u32(++seq)));
  const m = await old.migrate();
  const got = await Promise.all(answers);
  expect(got.every((a) => a.status === 1)).toBe(true);
  if (!m.ok) throw new Error('migration refused');
  expect(m.host).toBe('127.0.0.1');
  const to = nodeIdOfPort(c, m.port);
  expect(to).not.toBe(from);
  expect(handoffs).toEqual([`${from}->${to}`]);
  // The offline notice arrived before the answer (ordered stream), state 2.
  expect(notices.length).toBe(1);
  expect(notices[0][0]).toBe(2);
  // Careful close: FIN once everything the old node sent is acknowledged.
  expect(await old.closed).toBe('closed-by-server');
  expect(old.finReason).toBeNull();

  // Routed to the target and held there until the claim.
  for (let k = 4; k <= 6; k++) expect(await c.push('alice', 2, 7, u32(k))).toBe(true);
  const next = await connect({ ...ep, serverPort: await via(m.port) }, { claim: m.ticket, onPush });
  // The first answer after the claim proves the held pushes (sent right after its answer) arrived.
  for (let i = 0; i < 2; i++) expect((await next.request(2, 2, Buffer.alloc(0))).payload.readUInt32BE(0)).toBe(4 + i);
  expect(direct).toEqual([1, 2, 3, 4, 5, 6]);
  const more: Promise<{ status: number }>[] = [];
  for (; seq < 600; ) more.push(next.request(2, 4, u32(++seq)));
  expect((await Promise.all(more)).every((a) => a.status === 1)).toBe(true);
  await streamComplete;
  expect(stream).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  const data = JSON.parse((await next.request(2, 5, Buffer.alloc(0))).payload.toString('utf8')) as Record<string, number>;
  expect(data).toMatchObject({ counter: 5, lastSeq: 600 });
  expect(data.gaps ?? 0).toBe(0);
  expect(data.dups ?? 0).toBe(0);
  expect(c.stats(to).refused).toBe(0);
  expect(c.nodes.find((n) => n.id === to)?.users).toBe(1);
  expect(c.nodes.find((n) => n.id === from)?.users).toBe(0);
  return { c, from, to };
}

describe('UDP migration (PROTOCOL 7.2-7.6)', () => {
  it('moves a streaming client to the other node: counter and sequence continue, pushes exactly once and in order', async () => {
    const { c, from } = await streamAcrossMigration(async (port) => port);
    // The old node let go of its link after the FIN exchange.
    expect(c.stats(from).connections).toBe(0);
  });

  it('does the same through 10 % loss each way', async () => {
    let seed = 11;
    const proxies: UdpProxy[] = [];
    await streamAcrossMigration(async (port) => {
      const p = await UdpProxy.start({ seed: seed++, target: { host: '127.0.0.1', port }, toServer: { lossPct: 10 }, toClient: { lossPct: 10 } });
      proxies.push(p);
      cleanups.push(() => p.close());
      return p.port;
    });
    for (const p of proxies) {
      expect(p.counters.toServer.dropped).toBeGreaterThan(0);
      expect(p.counters.toClient.dropped).toBeGreaterThan(0);
    }
  });

  it('held pushes follow the claim answer in order', async () => {
    const c = await cluster({ clock: new ManualClock() });
    const ep = await fetchEndpoint(c.entryUrl, 'UDP', 'bob');
    const old = await connect(ep);
    const m = await old.migrate();
    if (!m.ok) throw new Error('migration refused');
    for (let k = 1; k <= 5; k++) await c.push('bob', 2, 7, u32(k));
    const got: number[] = [];
    const next = await connect({ ...ep, serverPort: m.port }, { claim: m.ticket, onPush: (_v, _c, p) => got.push(p.readUInt32BE(0)) });
    expect((await next.request(2, 1, Buffer.from('x'))).status).toBe(1);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers status 5 with code 1003 when there is no target; the client stays', async () => {
    const c = await cluster({ udpNodes: 1, clock: new ManualClock() });
    const ep = await fetchEndpoint(c.entryUrl, 'UDP', 'carol');
    const cl = await connect(ep);
    await c.setNodeState('udp-1', 'offline');
    expect(await cl.migrate()).toEqual({ ok: false, status: 5, code: 1003 });
    expect((await cl.request(2, 1, Buffer.from('still'))).payload.toString()).toBe('still');
    expect(cl.closeReason).toBeNull();
  });

  it('does not pick a TAKEN node', async () => {
    const c = await cluster({ udpNodes: 3, clock: new ManualClock() });
    const ep = await fetchEndpoint(c.entryUrl, 'UDP', 'dave');
    const from = nodeIdOfPort(c, ep.serverPort);
    const others = c.nodes.filter((n) => n.id !== from);
    await c.setNodeState(others[0].id, 'taken');
    const cl = await connect(ep);
    const m = await cl.migrate();
    if (!m.ok) throw new Error('migration refused');
    expect(m.port).toBe(others[1].port);
  });
});
