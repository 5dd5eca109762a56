// UdpClient through the fault-injecting proxy: reliability of the native RUDP client.
import { afterEach, describe, expect, it } from 'vitest';
import { getEndpoint, UdpClient } from '../src/client';
import { startCluster } from '../src/server';
import { UdpProxy } from './helpers/udp-proxy';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('UdpClient through a lossy proxy', () => {
  it('600 reliable 2/4 messages at 10 % loss each way: in order, no gaps, no duplicates', { timeout: 120_000 }, async () => {
    const cluster = await startCluster({ tcpNodes: 0, udpNodes: 1 });
    cleanups.push(() => cluster.stop());
    const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'lossy' });
    const proxy = await UdpProxy.start({
      seed: 42,
      target: { host: ep.serverHost, port: ep.serverPort },
      toServer: { lossPct: 10 },
      toClient: { lossPct: 10 },
    });
    cleanups.push(() => proxy.close());
    // Explicit retry policy: quick first resends, enough of them that 10 % loss
    // never exhausts one datagram's budget (0.1^30).
    const client = new UdpClient({
      retryMinMs: 50,
      retryMaxMs: 400,
      maxRetries: 30,
      synIntervalMs: 100,
      connectTimeoutMs: 30_000,
      requestTimeoutMs: 100_000,
    });
    cleanups.push(() => client.close());
    await client.connect({ ...ep, serverPort: proxy.port });

    const count = 600;
    const answers = await Promise.all(Array.from({ length: count }, (_, i) => client.request(2, 4, u32(i + 1))));
    expect(answers.every((a, i) => a.status === 1 && a.payload.readUInt32BE(0) === i + 1)).toBe(true);
    const data = JSON.parse((await client.request(2, 5)).payload.toString()) as Record<string, number>;
    expect(data.lastSeq).toBe(count);
    expect(data.gaps ?? 0).toBe(0);
    expect(data.dups ?? 0).toBe(0);
    expect(proxy.counters.toServer.dropped).toBeGreaterThan(0);
    expect(proxy.counters.toClient.dropped).toBeGreaterThan(0);
    expect(client.stats().retransmits).toBeGreaterThan(0);
    await client.close();
    expect(client.state).toBe('closed');
  });
});
