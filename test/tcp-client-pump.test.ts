// The event pump: many events cross into JS in few calls, capped per call, in order.
import { describe, expect, it } from 'vitest';
import { getEndpoint, pumpStats, TcpClient } from '../src/client';
import { clusterProcess } from './fixtures/spawn';

const n = 2500;

// Sends n push-back requests (2 events each: the answer and the push); `all`
// resolves when every push arrived. Some payloads go past the slab.
function pushBack(client: TcpClient, count: number): { got: number[]; all: Promise<void> } {
  const got: number[] = [];
  const all = new Promise<void>((resolve) =>
    client.on('push', (_v, _c, payload) => {
      got.push(payload.readUInt32BE(0));
      if (got.length === count) resolve();
    }),
  );
  for (let i = 0; i < count; i++) {
    const body = Buffer.alloc(i % 3 === 0 ? 6000 : 8);
    body.writeUInt32BE(i, 0);
    client.send(2, 3, body);
  }
  return { got, all };
}

describe('event pump batching', () => {
  // The cluster runs in another process: these tests block their own JS thread.
  const cluster = clusterProcess();

  // The thread driver: the network thread keeps queueing while JS is blocked, so
  // the cap must split what waits.
  it('thread driver: delivers queued events in batches of at most 1024, in order, with payloads intact', async () => {
    // The 5000 events hold about 5 MiB: above the default receive mark (4 MiB), which would
    // pause reading before they all wait (test/receive-backlog.test.ts tests that bound).
    const client = new TcpClient({ io: 'thread', receiveHighWaterMark: 64 << 20 });
    await client.connect(await getEndpoint(cluster.entryUrl(), { type: 'TCP', uid: 'pump-1' }));
    const before = pumpStats();
    const { got, all } = pushBack(client, n);
    // Hold the JS thread until every answer and push (2 events per send) waits in
    // the pump, so the cap must split them.
    const deadline = Date.now() + 30_000;  // safety net only
    while (pumpStats().queued < 2 * n && Date.now() < deadline) {
      // spin: the network thread keeps queueing while JS is busy
    }
    await all;
    const after = pumpStats();
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(after.events - before.events).toBeGreaterThanOrEqual(2 * n);
    expect(after.maxBatch).toBe(1024);
    // 5000 queued events need at least 5 crossings, and far fewer than one per event.
    expect(after.batches - before.batches).toBeGreaterThanOrEqual(5);
    expect(after.batches - before.batches).toBeLessThan(20);
    await client.close();
  });

  // The loop driver (the default): what one loop turn reads goes to JS in one
  // call (never more than 1024 events), in order.
  it('loop driver: delivers what a turn reads in few calls of at most 1024 events, in order', async () => {
    const client = new TcpClient();
    await client.connect(await getEndpoint(cluster.entryUrl(), { type: 'TCP', uid: 'pump-2' }));
    const before = pumpStats();
    const { got, all } = pushBack(client, n);
    await all;
    const after = pumpStats();
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(after.signals - before.signals).toBe(0);  // no cross-thread wake-up on this driver
    expect(after.maxBatch).toBeLessThanOrEqual(1024);
    const crossings = after.batches - before.batches;
    expect(crossings).toBeGreaterThan(0);
    expect(after.events - before.events).toBeGreaterThan(crossings);  // more than one event per crossing
    await client.close();
  });
});
