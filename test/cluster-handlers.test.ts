import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, startCluster } from '../src/server';
import { fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';

let cluster: Cluster | null = null;
const clients: TsTcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  cluster = null;
});

async function connect(c: Cluster, uid: string, onPush?: (v: number, c: number, p: Buffer) => void): Promise<TsTcpClient> {
  const client = await TsTcpClient.connect(await fetchEndpoint(c.entryUrl, 'TCP', uid), { onPush });
  clients.push(client);
  return client;
}

/** A promise with its resolver, to let a test decide when an async handler finishes. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('handle() and push()', () => {
  it('user handlers: payload, data, uid, status and thrown errors', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    cluster.handle(3, 1, (ctx) => Buffer.from(`${ctx.uid}:${ctx.payload.toString()}`));
    cluster.handle(3, 2, (ctx) => {
      ctx.data.name = ctx.payload.toString();
      return { status: 4, payload: Buffer.from('nope') };
    });
    cluster.handle(3, 3, () => {
      throw new Error('boom');
    });
    cluster.handle(3, 4, async () => {
      await Promise.resolve();
      throw new Error('async boom');
    });
    cluster.handle(3, 5, () => ({ status: 77 }));
    const errors: unknown[] = [];
    cluster.on('handler-error', (e) => errors.push(e.error));
    const c = await connect(cluster, 'alice');
    expect((await c.request(3, 1, Buffer.from('x'))).payload.toString()).toBe('alice:x');
    const r2 = await c.request(3, 2, Buffer.from('Al'));
    expect([r2.status, r2.payload.toString()]).toEqual([4, 'nope']);
    expect((await c.request(3, 3)).status).toBe(5);
    expect((await c.request(3, 4)).status).toBe(5);
    expect((await c.request(3, 5)).status).toBe(5);
    expect(errors.length).toBe(2);
    expect(JSON.parse((await c.request(2, 5)).payload.toString())).toEqual({ name: 'Al' });
    expect(cluster.stats('tcp-1').handlerErrors).toBe(2);
  });

  it('ctx.push and cluster.push reach the user; push to an unknown user is false', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2 });
    const got: string[] = [];
    cluster.handle(3, 1, (ctx) => {
      ctx.push(4, 1, Buffer.from('from-handler'));
    });
    const c = await connect(cluster, 'bob', (v, cmd, p) => got.push(`${v}/${cmd}:${p.toString()}`));
    await c.request(3, 1);
    const pushed = new Promise<void>((resolve) => {
      c.onPush = (v, cmd, p) => {
        got.push(`${v}/${cmd}:${p.toString()}`);
        if (got.length === 3) resolve();
      };
    });
    expect(await cluster.push('bob', 5, 1, Buffer.from('a'))).toBe(true);
    expect(await cluster.push('bob', 5, 2, Buffer.from('b'))).toBe(true);
    await pushed;
    expect(got).toEqual(['4/1:from-handler', '5/1:a', '5/2:b']);
    expect(await cluster.push('nobody', 5, 1, Buffer.alloc(0))).toBe(false);
  });

  it('pushes for a registered session are held until it connects', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'early');
    expect(await cluster.push('early', 6, 1, Buffer.from('held'))).toBe(true);
    const got: string[] = [];
    const arrived = new Promise<void>((resolve) => {
      const client = TsTcpClient.connect(ep, {
        onPush: (v, cmd, p) => {
          got.push(`${v}/${cmd}:${p.toString()}`);
          resolve();
        },
      });
      void client.then((cl) => clients.push(cl));
    });
    await arrived;
    expect(got).toEqual(['6/1:held']);
  });
});

describe('ordering', () => {
  it('requests of one client are answered strictly in order, async handlers included', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const gate = deferred();
    const firstStarted = deferred();
    const started: number[] = [];
    cluster.handle(3, 1, async (ctx) => {
      started.push(ctx.payload[0]);
      firstStarted.resolve();
      if (ctx.payload[0] === 0) await gate.promise; // the first one waits until the test says so
      return ctx.payload;
    });
    cluster.handle(3, 2, (ctx) => {
      started.push(100 + ctx.payload[0]);
      return ctx.payload;
    });
    const c = await connect(cluster, 'order');
    const order: string[] = [];
    const p = [
      c.request(3, 1, Buffer.from([0])).then(() => order.push('slow')),
      c.request(3, 2, Buffer.from([1])).then(() => order.push('sync')),
      c.request(3, 1, Buffer.from([2])).then(() => order.push('async')),
    ];
    const hb = c.heartbeat(1).then(() => order.push('hb'));
    await firstStarted.promise;
    // Wait (event loop turns, generous bound) until the node has read all 5 requests (handshake + 4).
    const stats = cluster.stats('tcp-1');
    for (let i = 0; i < 100_000 && stats.requests < 5; i++) await new Promise<void>((r) => setImmediate(r));
    expect(stats.requests).toBe(5);
    expect(started).toEqual([0]); // nothing passed the slow handler
    expect(order).toEqual([]);
    gate.resolve();
    await Promise.all([...p, hb]);
    expect(started).toEqual([0, 101, 2]);
    expect(order).toEqual(['slow', 'sync', 'async', 'hb']);
  });

  it('many pipelined requests keep FIFO pairing per ver/cmd', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    cluster.handle(3, 9, async (ctx) => {
      if (ctx.payload[0] % 3 === 0) await Promise.resolve();
      return ctx.payload;
    });
    const c = await connect(cluster, 'pipe');
    const n = 500;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const b = Buffer.alloc(4);
        b.writeUInt32BE(i, 0);
        return i % 2 === 0 ? c.request(3, 9, b) : c.request(2, 1, b);
      }),
    );
    expect(answers.map((a) => a.payload.readUInt32BE(0))).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});
