// Backpressure: send() returns false at the high-water mark and 'drain' follows; past
// maxQueuedBytes a send throws 'queue-full'.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiarkisError, getEndpoint, TcpClient } from '../src/client';
import { startCluster, type Cluster } from '../src/server';

describe('TcpClient backpressure', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 0 });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('returns false past the high-water mark, then emits drain, and delivers everything', async () => {
    const client = new TcpClient({ highWaterMark: 4096 });
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'bp-1' }));
    const drained = new Promise<void>((resolve) => client.once('drain', resolve));
    let answers = 0;
    let bytes = 0;
    const allAnswered = new Promise<void>((resolve) =>
      client.on('response', (_v, _c, _s, payload) => {
        bytes += payload.length;
        if (++answers === 20) resolve();
      }),
    );
    const results: boolean[] = [];
    for (let i = 0; i < 20; i++) results.push(client.send(2, 1, Buffer.alloc(8192, i)));
    // Every packet alone is over the mark, so no send can report writable.
    expect(results.every((w) => !w)).toBe(true);
    await drained;
    await allAnswered;
    expect(bytes).toBe(20 * 8192);
    expect(client.stats().queuedBytes).toBe(0);
    await client.close();
  });

  it('small sends stay writable', async () => {
    const client = new TcpClient();
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'bp-2' }));
    expect(client.send(2, 1, Buffer.from('small'))).toBe(true);
    await client.close();
  });

  it('throws queue-full past maxQueuedBytes and keeps the connection', async () => {
    const client = new TcpClient({ maxQueuedBytes: 1024 });
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'bp-3' }));
    let err: unknown;
    try {
      client.send(2, 1, Buffer.alloc(4096));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DiarkisError);
    expect((err as DiarkisError).code).toBe('queue-full');
    expect((await client.request(2, 1, Buffer.from('ok'))).payload.toString()).toBe('ok');
    await client.close();
  });
});
