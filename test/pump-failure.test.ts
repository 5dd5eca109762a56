// The event pump's own N-API path (issue 11): a C++ exception inside a delivery
// (an allocation failure in the queue's take, a resume command, the batch) is
// caught where Node calls in (the TSFN callback, the uv callbacks), counted in
// pumpStats().failures, and what is still queued is delivered on a later turn:
// the process lives, the client goes on.
import { afterEach, describe, expect, it } from 'vitest';
import { getEndpoint, pumpStats, TcpClient } from '../src/client';
import { loadNative } from '../src/native';
import { startCluster, type Cluster } from '../src/server';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe.each(['loop', 'thread'] as const)('a delivery that throws natively, io: %s', (io) => {
  it('is caught and counted; the queued events still arrive and the client goes on', async () => {
    const cluster: Cluster = await startCluster({ tcpNodes: 1, udpNodes: 0 });
    cleanups.push(() => cluster.stop());
    const client = new TcpClient({ io });
    cleanups.push(() => client.close());
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: `pump-failure-${io}` }));
    const before = pumpStats().failures;
    loadNative().failNextDeliveryForTest(1);
    // The answer's delivery fails once before anything is taken; the next turn delivers it.
    const res = await client.request(2, 1, Buffer.from('through a failed delivery'));
    expect(res.payload.toString()).toBe('through a failed delivery');
    expect(pumpStats().failures).toBe(before + 1);
    const again = await client.request(2, 1, Buffer.from('and after it'));
    expect(again.payload.toString()).toBe('and after it');
    expect(client.state).toBe('connected');
  });
});
