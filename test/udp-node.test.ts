import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../src/server';
import { fetchEndpoint } from './helpers/ts-tcp-client';
import { startUdpNodeRig, TsUdpClient } from './helpers/ts-udp-client';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Closes a client that is still open (FIN), so the node does not wait out its grace period. */
function closeLater(cl: TsUdpClient): void {
  cleanups.push(async () => (cl.closeReason === null ? cl.close() : undefined));
}

async function cluster(opts: Parameters<typeof startCluster>[0] = {}): Promise<Cluster> {
  const c = await startCluster({ tcpNodes: 0, udpNodes: 1, ...opts });
  cleanups.push(() => c.stop());
  return c;
}

async function client(c: Cluster, uid: string): Promise<TsUdpClient> {
  const ep = await fetchEndpoint(c.entryUrl, 'UDP', uid);
  const cl = await TsUdpClient.connect(ep, { retryMinMs: 100, retryMaxMs: 1000, maxRetries: 10 });
  closeLater(cl);
  return cl;
}

describe('UDP node in the cluster', () => {
  it('is listed, handed out by the endpoint API, and completes the handshake', async () => {
    const c = await cluster();
    expect(c.nodes.map((n) => [n.id, n.type])).toEqual([['udp-1', 'UDP']]);
    const ep = await fetchEndpoint(c.entryUrl, 'UDP', 'alice');
    expect(ep.serverType).toBe('UDP');
    expect(ep.serverPort).toBe(c.nodes[0].port);
    const cl = await TsUdpClient.connect(ep);
    closeLater(cl);
    expect(cl.session.state).toBe('open');
  });

  it('answers the echo with state, timestamp and the public address', async () => {
    const c = await cluster();
    const cl = await client(c, 'echo-user');
    const e = await cl.echo(['10.0.0.5:1234']);
    expect(e).toMatchObject({ status: 1, state: 'online', address: `127.0.0.1:${cl.localPort}`, notifications: [] });
    expect(e.ts).toBeGreaterThan(0);
  });

  it('serves the sample commands 2/1 to 2/6', async () => {
    const c = await cluster();
    const cl = await client(c, 'sampler');
    expect(await cl.request(2, 1, Buffer.from('ping'))).toEqual({ status: 1, payload: Buffer.from('ping') });
    expect((await cl.request(2, 2, Buffer.alloc(0))).payload.readUInt32BE(0)).toBe(1);
    expect((await cl.request(2, 2, Buffer.alloc(0))).payload.readUInt32BE(0)).toBe(2);
    const before = cl.pushes.length;
    const pb = await cl.request(2, 3, Buffer.from('back'));
    expect(pb.status).toBe(1);
    // The push is sent before the answer on the same ordered stream.
    expect(cl.pushes.slice(before)).toEqual([{ ver: 2, cmd: 3, payload: Buffer.from('back') }]);
    for (const n of [1, 2, 4, 4]) await cl.request(2, 4, u32(n));
    const data = JSON.parse((await cl.request(2, 5, Buffer.alloc(0))).payload.toString('utf8')) as Record<string, number>;
    expect(data).toMatchObject({ counter: 2, lastSeq: 4, gaps: 1, dups: 1 });
    expect((await cl.request(2, 4, Buffer.alloc(3))).status).toBe(4);
    const sub = Buffer.alloc(8);
    sub.writeUInt32BE(5, 0);
    sub.writeUInt32BE(1, 4);
    const n0 = cl.pushes.length;
    const five = cl.waitForPushes((p) => p.ver === 2 && p.cmd === 6, 5);
    expect((await cl.request(2, 6, sub)).status).toBe(1);
    await five;
    expect(cl.pushes.slice(n0).map((p) => [p.ver, p.cmd, p.payload.readUInt32BE(0)])).toEqual([1, 2, 3, 4, 5].map((i) => [2, 6, i]));
  });

  it('carries large requests and answers as fragments', async () => {
    const c = await cluster();
    const cl = await client(c, 'big');
    const big = Buffer.alloc(20_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const a = await cl.request(2, 1, big);
    expect(a.status).toBe(1);
    expect(a.payload.equals(big)).toBe(true);
  });

  it('runs user handlers (async ones in order) through the same dispatch as TCP, unknown commands get status 4', async () => {
    const c = await cluster();
    c.handle(9, 1, async (ctx) => {
      await new Promise((r) => setTimeout(r, 5));
      return Buffer.from(`slow:${ctx.payload.toString()}`);
    });
    c.handle(9, 2, (ctx) => Buffer.from(`fast:${ctx.payload.toString()}`));
    const cl = await client(c, 'handlers');
    const order: string[] = [];
    await Promise.all([
      cl.request(9, 1, Buffer.from('a')).then((r) => order.push(r.payload.toString())),
      cl.request(9, 2, Buffer.from('b')).then((r) => order.push(r.payload.toString())),
    ]);
    expect(order).toEqual(['slow:a', 'fast:b']);
    expect((await cl.request(9, 99, Buffer.alloc(0))).status).toBe(4);
  });

  it('answers an unreliable Ping unreliably and accepts the ClientKey command', async () => {
    const c = await cluster();
    const ep = await fetchEndpoint(c.entryUrl, 'UDP', 'pinger');
    const cl = await TsUdpClient.connect(ep, { clientKey: 'my-key' });
    closeLater(cl);
    const ts = Buffer.alloc(8);
    ts.writeDoubleLE(42, 0);
    const a = await cl.requestUnreliable(0, 3, ts);
    expect(a).toEqual({ status: 1, payload: ts });
    // ClientKey has no answer; the next request still pairs correctly.
    expect((await cl.request(2, 1, Buffer.from('x'))).payload.toString()).toBe('x');
    expect(c.stats('udp-1').drops['bad-mac']).toBe(0);
  });

  it('pushes the offline notice as a DAT and reports state 2 in later echoes', async () => {
    const c = await cluster();
    const cl = await client(c, 'offline-user');
    await cl.echo();
    const gotNotice = cl.waitForPushes((p) => p.ver === 0 && p.cmd === 1).then((b) => b[0]);
    await c.setNodeState('udp-1', 'offline');
    const notice = await gotNotice;
    expect(notice[0]).toBe(2);
    expect(notice.readDoubleLE(1)).toBe(0);
    expect((await cl.echo()).state).toBe('offline');
  });

  it('ends the session on the client FIN and sends Fin server-shutdown on stop', async () => {
    const c = await cluster();
    const a = await client(c, 'leaver');
    await a.request(2, 1, Buffer.from('x'));
    const closedOnNode = new Promise<string | undefined>((resolve) => c.once('session-close', (e) => resolve(e.reason)));
    expect(await a.close()).toBe('closed-by-user');
    // The node says why it ended the session (the sessions bench counts these).
    expect(await closedOnNode).toBe('closed-by-client');
    expect(c.nodes[0].users).toBe(0);

    const b = await client(c, 'stayer');
    await b.request(2, 1, Buffer.from('y'));
    await c.stop();
    expect(await b.closed).toBe('closed-by-server');
    expect(b.pushes.map((p) => [p.ver, p.cmd, p.payload.toString()])).toContainEqual([0, 0, 'server-shutdown']);
  });
});

describe('UDP node on its own', () => {
  it('serves over IPv6 and reports enlarged (or tolerated) socket buffers', async () => {
    const rig = await startUdpNodeRig({ host: '::1' });
    cleanups.push(() => rig.stop());
    expect(rig.node.udp.recvBufferBytes).toBeGreaterThan(0);
    const ep = await rig.register('v6');
    expect(ep.serverHost).toBe('::1');
    const cl = await TsUdpClient.connect(ep);
    closeLater(cl);
    expect((await cl.request(2, 1, Buffer.from('six'))).payload.toString()).toBe('six');
    expect((await cl.echo()).address).toBe(`[::1]:${cl.localPort}`);
  });

  it('works with encryption off', async () => {
    const rig = await startUdpNodeRig({ encryption: false });
    cleanups.push(() => rig.stop());
    const cl = await TsUdpClient.connect(await rig.register('plain'));
    closeLater(cl);
    expect((await cl.request(2, 1, Buffer.from('clear'))).payload.toString()).toBe('clear');
  });

  it('drops a client silent for connectionTTL', async () => {
    const rig = await startUdpNodeRig({ connectionTtlMs: 200 });
    cleanups.push(() => rig.stop());
    const cl = await TsUdpClient.connect(await rig.register('sleepy'));
    closeLater(cl);
    await cl.request(2, 1, Buffer.from('x'));
    expect(await cl.closed).toBe('closed-by-server');
    expect(rig.node.users).toBe(0);
  });
});
