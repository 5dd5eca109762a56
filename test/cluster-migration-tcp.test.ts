import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ManualClock, startCluster } from '../src/server';
import type { NodeInfo } from '../src/server/types';
import { EndpointInfo, fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';

let cluster: Cluster | null = null;
const clients: TsTcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  cluster = null;
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

function nodeIdOfPort(c: Cluster, port: number): string {
  const id = c.nodeIdAt(port);
  if (id === undefined) throw new Error(`no node on port ${port}`);
  return id;
}

async function connect(ep: EndpointInfo, opts: Parameters<typeof TsTcpClient.connect>[1] = {}): Promise<TsTcpClient> {
  const c = await TsTcpClient.connect(ep, opts);
  clients.push(c);
  return c;
}

describe('TCP migration (PROTOCOL 7.2-7.6)', () => {
  it('moves a streaming client to another node: data continues, pushes exactly once and in order', async () => {
    const clock = new ManualClock();
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2, clock, lingerMs: 1000 });
    const c = cluster;
    const handoffs: string[] = [];
    c.on('handoff', (e) => handoffs.push(`${e.from}->${e.to}`));
    const ep = await fetchEndpoint(c.entryUrl, 'TCP', 'alice');
    const from = nodeIdOfPort(c, ep.serverPort);

    // Pushes from both connections land in one ordered log.
    const stream: number[] = [];
    const direct: number[] = [];
    let streamDone = (): void => undefined;
    const streamComplete = new Promise<void>((r) => (streamDone = r));
    const onPush = (ver: number, cmd: number, p: Buffer): void => {
      if (ver === 2 && cmd === 6) {
        stream.push(p.readUInt32BE(0));
        if (stream.length === 150) streamDone();
      } else if (ver === 2 && cmd === 7) {
        direct.push(p.readUInt32BE(0));
      }
    };
    const old = await connect(ep, { onPush });

    let seq = 0;
    const answers: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) answers.push(old.request(2, 2));
    for (; seq < 200; ) answers.push(old.request(2, 4, u32(++seq)));
    // 150 pushes, 1 ms apart: the stream runs across the move.
    expect((await old.request(2, 6, Buffer.from([0, 0, 0, 150, 0, 0, 0, 1]))).status).toBe(1);
    for (let k = 1; k <= 3; k++) expect(await c.push('alice', 2, 7, u32(k))).toBe(true);

    await c.setNodeState(from, 'offline');
    for (; seq < 400; ) answers.push(old.request(2, 4, u32(++seq)));
    const m = await old.migrate();
    await Promise.all(answers);
    if (!m.ok) throw new Error('migration refused');
    expect(m.host).toBe('127.0.0.1');
    const to = nodeIdOfPort(c, m.port);
    expect(to).not.toBe(from);
    expect(handoffs).toEqual([`${from}->${to}`]);
    // Half-closed by the node after the answer.
    expect(await old.closed).toBe('closed');

    // Routed to the target and held there until the claim.
    for (let k = 4; k <= 6; k++) expect(await c.push('alice', 2, 7, u32(k))).toBe(true);
    const next = await connect({ ...ep, serverPort: m.port }, { claim: m.ticket, onPush });
    expect(direct).toEqual([1, 2, 3, 4, 5, 6]);

    for (let i = 0; i < 2; i++) expect((await next.request(2, 2)).payload.readUInt32BE(0)).toBe(4 + i);
    const more: Promise<unknown>[] = [];
    for (; seq < 600; ) more.push(next.request(2, 4, u32(++seq)));
    await Promise.all(more);
    await streamComplete;
    expect(stream).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    const data = JSON.parse((await next.request(2, 5)).payload.toString('utf8')) as Record<string, number>;
    expect(data).toMatchObject({ counter: 5, lastSeq: 600 });
    expect(data.gaps ?? 0).toBe(0);
    expect(data.dups ?? 0).toBe(0);
    expect(c.stats(to).refused).toBe(0);
    expect(c.nodes.find((n) => n.id === to)?.users).toBe(1);
    expect(c.nodes.find((n) => n.id === from)?.users).toBe(0);
  });

  it('spreads a migration storm over the target\'s claim listeners (default 32), each claim binding there', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2 });
    const c = cluster;
    const [a, b] = c.nodes as [NodeInfo, NodeInfo];
    await c.setNodeState(b.id, 'taken'); // every user lands on a
    const N = 64;
    const eps = await Promise.all(Array.from({ length: N }, (_, i) => fetchEndpoint(c.entryUrl, 'TCP', `u${i}`)));
    const olds = await Promise.all(eps.map((ep) => connect(ep)));
    await c.setNodeState(b.id, 'online');
    const other = b;
    await c.setNodeState(a.id, 'offline');
    const moves = await Promise.all(olds.map((o) => o.migrate()));
    const ports = new Set<number>();
    for (const m of moves) {
      if (!m.ok) throw new Error('migration refused');
      expect(c.nodeIdAt(m.port)).toBe(other.id);
      expect(m.port).not.toBe(other.port);
      ports.add(m.port);
    }
    // In turn over the 32 listeners: 64 moves use each twice.
    expect(ports.size).toBe(32);
    const next = await Promise.all(moves.map((m, i) => (m.ok ? connect({ ...(eps[i] as EndpointInfo), serverPort: m.port }, { claim: m.ticket }) : null)));
    for (const n of next) expect((await n?.request(2, 2))?.status).toBe(1);
    expect(c.nodes.find((n) => n.id === other.id)?.users).toBe(N);
  });

  it('claimListeners: 0 sends migrations to the target\'s main port', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2, claimListeners: 0 });
    const c = cluster;
    const ep = await fetchEndpoint(c.entryUrl, 'TCP', 'solo');
    const old = await connect(ep);
    await c.setNodeState(nodeIdOfPort(c, ep.serverPort), 'offline');
    const m = await old.migrate();
    if (!m.ok) throw new Error('migration refused');
    expect(c.nodes.some((n) => n.port === m.port && n.port !== ep.serverPort)).toBe(true);
  });

  it('held pushes follow the claim answer in order', async () => {
    const clock = new ManualClock();
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2, clock });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'bob');
    const old = await connect(ep);
    const m = await old.migrate();
    if (!m.ok) throw new Error('migration refused');
    for (let k = 1; k <= 5; k++) await cluster.push('bob', 2, 7, u32(k));
    const got: number[] = [];
    const next = await connect({ ...ep, serverPort: m.port }, { claim: m.ticket, onPush: (_v, _c, p) => got.push(p.readUInt32BE(0)) });
    // The first answer after the claim proves everything sent before it has arrived.
    expect((await next.request(2, 1, Buffer.from('x'))).status).toBe(1);
    expect(got).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers status 5 with code 1003 when there is no target; the client stays', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1, clock: new ManualClock() });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'carol');
    const c = await connect(ep);
    await cluster.setNodeState(nodeIdOfPort(cluster, ep.serverPort), 'offline');
    expect(await c.migrate()).toEqual({ ok: false, status: 5, code: 1003 });
    expect((await c.request(2, 1, Buffer.from('still'))).payload.toString()).toBe('still');
  });

  it('does not pick a TAKEN or OFFLINE node', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 3, clock: new ManualClock() });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'dave');
    const from = nodeIdOfPort(cluster, ep.serverPort);
    const others = cluster.nodes.filter((n) => n.id !== from);
    await cluster.setNodeState(others[0].id, 'taken');
    const c = await connect(ep);
    const m = await c.migrate();
    if (!m.ok) throw new Error('migration refused');
    expect(cluster.nodeIdAt(m.port)).toBe(others[1].id);
  });

  it('half-closes after the answer, discards what still arrives, and closes without a reset after lingerMs', async () => {
    const clock = new ManualClock();
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2, clock, lingerMs: 2000 });
    const c = cluster;
    const ep = await fetchEndpoint(c.entryUrl, 'TCP', 'erin');
    const from = nodeIdOfPort(c, ep.serverPort);
    const old = await connect(ep, { allowHalfOpen: true });
    const errors: Error[] = [];
    old.socket.on('error', (e) => errors.push(e));
    const ended = new Promise<void>((r) => old.socket.once('end', () => r()));
    const m = await old.migrate();
    expect(m.ok).toBe(true);
    await ended;
    // Late requests after the node's end are read and dropped, never answered.
    const before = c.stats(from).bytesIn;
    const late = old.encode(2, 1, Buffer.from('late'));
    old.socket.write(late);
    for (let i = 0; i < 1000 && c.stats(from).bytesIn < before + late.length; i++) await new Promise((r) => setTimeout(r, 5));
    expect(c.stats(from).bytesIn).toBe(before + late.length);
    const requests = c.stats(from).requests;
    clock.advance(1999);
    expect(c.stats(from).connections).toBe(1);
    clock.advance(1);
    // The node's side is gone; ours (half-open on purpose) closes cleanly, no reset seen.
    for (let i = 0; i < 1000 && c.stats(from).connections > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(c.stats(from).connections).toBe(0);
    await old.close();
    expect(errors).toEqual([]);
    expect(c.stats(from).requests).toBe(requests);
  });
});
