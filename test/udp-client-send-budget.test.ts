// Unreliable send() counts against the send budget: a tight loop cannot grow the
// native command queue without bound (asserted on the native byte counts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiarkisError, getEndpoint, UdpClient } from '../src/client';
import { startCluster, type Cluster } from '../src/server';

const MiB = 1024 * 1024;

describe('UdpClient: a tight unreliable send() loop stays bounded', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 0, udpNodes: 1, encryption: true });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('with the default options: queued bytes never pass maxQueuedBytes (64 MiB) and the client stays usable', async () => {
    const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'u-tight' });
    const client = new UdpClient();
    await client.connect(ep);
    const body = Buffer.alloc(1024, 7);
    let maxQueued = 0;
    let full = 0;
    let notWritable = 0;
    for (let i = 0; i < 200_000; i++) {
      try {
        if (!client.send(2, 10, body)) notWritable++;
      } catch (err) {
        expect((err as DiarkisError).code).toBe('queue-full');
        full++;
      }
      if ((i & 255) === 0) maxQueued = Math.max(maxQueued, client.stats().queuedBytes);
    }
    maxQueued = Math.max(maxQueued, client.stats().queuedBytes);
    expect(maxQueued).toBeLessThanOrEqual(64 * MiB);
    // (full and notWritable are 0 when the network side keeps up, which the loop driver always does)
    expect(full + notWritable).toBeLessThan(200_000);
    // Still connected and in order: a request behind the burst round-trips.
    const echo = await client.request(2, 1, Buffer.from('after'));
    expect(echo.payload.toString()).toBe('after');
    expect(typeof client.stats().sendDropped).toBe('number');
    await client.close();
  });

  it('charges every unreliable send: send() says false at the high-water mark and throws queue-full past the maximum', async () => {
    const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'u-charged' });
    const client = new UdpClient({ highWaterMark: 100, maxQueuedBytes: 1000 });
    await client.connect(ep);
    expect(client.send(2, 10, Buffer.alloc(200, 1))).toBe(false); // ~240 bytes charged >= 100
    let code: string | undefined;
    try {
      client.send(2, 10, Buffer.alloc(1024, 2)); // ~1070 bytes > 1000: never queued
    } catch (err) {
      code = (err as DiarkisError).code;
    }
    expect(code).toBe('queue-full');
    await client.close();
  });
});
