import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ManualClock, startCluster } from '../src/server';
import { EndpointInfo, fetchEndpoint } from './helpers/ts-tcp-client';
import { TsUdpClient } from './helpers/ts-udp-client';

const RETRY = { retryMinMs: 40, retryMaxMs: 400, maxRetries: 30 } as const;
const TIMEOUT = 5000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(udpNodes: number): Promise<{ c: Cluster; clock: ManualClock; node: string }> {
  const clock = new ManualClock();
  const c = await startCluster({ udpNodes, tcpNodes: 0, clock, shutdownTimeoutMs: TIMEOUT, udp: { ...RETRY, connectionTtlMs: 60_000 } });
  cleanups.push(() => c.stop());
  return { c, clock, node: 'udp-1' };
}

/** Waits for a condition the test cannot get an event for (requests arrived at the node). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

const endpoints = new Map<TsUdpClient, EndpointInfo>();

async function connect(ep: EndpointInfo, claim?: Buffer): Promise<TsUdpClient> {
  const cl = await TsUdpClient.connect(ep, { ...RETRY, synIntervalMs: 100, connectTimeoutMs: 20_000, claim });
  cleanups.push(async () => (cl.closeReason === null ? cl.close() : undefined));
  endpoints.set(cl, ep);
  return cl;
}

/** Connected and bound: a UDP session binds on its first authenticated DAT, not on the handshake. */
async function client(c: Cluster, uid: string): Promise<TsUdpClient> {
  const cl = await connect(await fetchEndpoint(c.entryUrl, 'UDP', uid));
  expect((await cl.echo()).status).toBe(1);
  return cl;
}

describe('shutdown timeout of an OFFLINE UDP node (PROTOCOL 6, 7.7)', () => {
  it('keeps serving until the timeout, then sends Fin server-shutdown as a DAT and FIN', async () => {
    const { c, clock, node } = await setup(1);
    const a = await client(c, 'a');
    const b = await client(c, 'b');
    await c.setNodeState(node, 'offline');
    clock.advance(TIMEOUT - 1);
    expect((await a.request(2, 1, Buffer.from('x'))).payload.toString()).toBe('x');
    clock.advance(1);
    expect(await a.closed).toBe('closed-by-server');
    expect(await b.closed).toBe('closed-by-server');
    expect([a.finReason, b.finReason]).toEqual(['server-shutdown', 'server-shutdown']);
    // The offline notice came first, the Fin last.
    expect(b.pushes.map((p) => [p.ver, p.cmd])).toEqual([
      [0, 1],
      [0, 0],
    ]);
  });

  it('is cancelled when the node comes back ONLINE (or TAKEN)', async () => {
    const { c, clock, node } = await setup(1);
    const a = await client(c, 'a');
    await c.setNodeState(node, 'offline');
    await c.setNodeState(node, 'online');
    clock.advance(TIMEOUT * 2);
    await c.setNodeState(node, 'offline');
    await c.setNodeState(node, 'taken');
    clock.advance(TIMEOUT * 2);
    expect((await a.request(2, 1, Buffer.from('y'))).payload.toString()).toBe('y');
    expect(clock.pending).toBe(0);
    expect(a.finReason).toBeNull();
  });

  it('does not cut a session whose migration answer is on its way; the migrated client is unaffected', async () => {
    const { c, clock, node } = await setup(2);
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    c.handle(2, 9, async () => {
      await gate;
    });
    const idle = await client(c, 'idle');
    // Both users land on udp-1 only if udp-2 is out of the rotation while they connect.
    await c.setNodeState('udp-2', 'taken');
    const mover = await client(c, 'mover');
    expect(c.nodes.find((n) => n.id === node)?.users).toBe(2);
    await c.setNodeState('udp-2', 'online');

    const before = c.stats(node).requests;
    const slow = mover.request(2, 9, Buffer.alloc(0));
    const answer = mover.migrate();
    await until(() => c.stats(node).requests === before + 2);
    await c.setNodeState(node, 'offline');
    // The migrate request waits behind the slow handler while the timeout runs out.
    clock.advance(TIMEOUT);
    expect(await idle.closed).toBe('closed-by-server');
    expect(idle.finReason).toBe('server-shutdown');
    expect(mover.finReason).toBeNull();
    release();
    expect((await slow).status).toBe(1);
    const m = await answer;
    if (!m.ok) throw new Error('migration refused');
    expect(await mover.closed).toBe('closed-by-server');
    expect(mover.finReason).toBeNull();
    const next = await connect({ ...(endpoints.get(mover) as EndpointInfo), serverPort: m.port }, m.ticket);
    expect((await next.request(2, 1, Buffer.from('z'))).payload.toString()).toBe('z');
  });

  it('cuts a client whose migration found no target once the timeout has run out', async () => {
    const { c, clock, node } = await setup(1);
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    c.handle(2, 9, async () => {
      await gate;
    });
    const a = await client(c, 'a');
    const before = c.stats(node).requests;
    const slow = a.request(2, 9, Buffer.alloc(0));
    const answer = a.migrate();
    await until(() => c.stats(node).requests === before + 2);
    await c.setNodeState(node, 'offline');
    clock.advance(TIMEOUT);
    release();
    expect((await slow).status).toBe(1);
    expect(await answer).toEqual({ ok: false, status: 5, code: 1003 });
    expect(await a.closed).toBe('closed-by-server');
    expect(a.finReason).toBe('server-shutdown');
  });
});
