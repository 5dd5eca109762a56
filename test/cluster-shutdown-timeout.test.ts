import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, ManualClock, startCluster } from '../src/server';
import { EndpointInfo, fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';

let cluster: Cluster | null = null;
const clients: TsTcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  cluster = null;
});

const TIMEOUT = 5000;

async function setup(tcpNodes: number): Promise<{ c: Cluster; clock: ManualClock; node: string }> {
  const clock = new ManualClock();
  const c = await startCluster({ udpNodes: 0, tcpNodes, clock, shutdownTimeoutMs: TIMEOUT });
  cluster = c;
  return { c, clock, node: 'tcp-1' };
}

/** Waits for a condition the test cannot get an event for (requests arrived at the node). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
}

/** The endpoint each client was built from (a migrated client reuses its SID and keys). */
const endpoints = new Map<TsTcpClient, EndpointInfo>();

async function client(c: Cluster, uid: string): Promise<TsTcpClient> {
  const ep = await fetchEndpoint(c.entryUrl, 'TCP', uid);
  const t = await TsTcpClient.connect(ep);
  clients.push(t);
  endpoints.set(t, ep);
  return t;
}

describe('shutdown timeout of an OFFLINE node (PROTOCOL 6, 7.7)', () => {
  it('keeps serving until the timeout, then sends Fin server-shutdown and closes', async () => {
    const { c, clock, node } = await setup(1);
    const a = await client(c, 'a');
    const b = await client(c, 'b');
    await c.setNodeState(node, 'offline');
    clock.advance(TIMEOUT - 1);
    expect((await a.request(2, 1, Buffer.from('x'))).payload.toString()).toBe('x');
    clock.advance(1);
    expect(await a.closed).toBe('fin:server-shutdown');
    expect(await b.closed).toBe('fin:server-shutdown');
  });

  it('is cancelled when the node comes back ONLINE', async () => {
    const { c, clock, node } = await setup(1);
    const a = await client(c, 'a');
    await c.setNodeState(node, 'offline');
    await c.setNodeState(node, 'online');
    clock.advance(TIMEOUT * 2);
    expect((await a.request(2, 1, Buffer.from('y'))).payload.toString()).toBe('y');
    expect(clock.pending).toBe(0);
  });

  it('does not cut a connection whose migration answer is on its way; a migrated client is unaffected', async () => {
    const { c, clock, node } = await setup(2);
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    c.handle(2, 9, async () => {
      await gate;
    });
    const idle = await client(c, 'idle');
    // Both users land on tcp-1 only if tcp-2 is out of the rotation while they connect.
    await c.setNodeState('tcp-2', 'taken');
    const mover = await client(c, 'mover');
    expect(c.nodes.find((n) => n.id === node)?.users).toBe(2);
    await c.setNodeState('tcp-2', 'online');

    const before = c.stats(node).requests;
    const slow = mover.request(2, 9);
    const answer = mover.migrate();
    await until(() => c.stats(node).requests === before + 2);
    await c.setNodeState(node, 'offline');
    // The migrate request waits behind the slow handler while the timeout runs out.
    clock.advance(TIMEOUT);
    expect(await idle.closed).toBe('fin:server-shutdown');
    expect(mover.finReason).toBeNull();
    release();
    expect((await slow).status).toBe(1);
    const m = await answer;
    if (!m.ok) throw new Error('migration refused');
    expect(await mover.closed).toBe('closed');
    const next = await TsTcpClient.connect({ ...(endpoints.get(mover) as EndpointInfo), serverPort: m.port }, { claim: m.ticket });
    clients.push(next);
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
    const slow = a.request(2, 9);
    const answer = a.migrate();
    await until(() => c.stats(node).requests === before + 2);
    await c.setNodeState(node, 'offline');
    clock.advance(TIMEOUT);
    release();
    expect((await slow).status).toBe(1);
    expect(await answer).toEqual({ ok: false, status: 5, code: 1003 });
    expect(await a.closed).toBe('fin:server-shutdown');
  });
});
