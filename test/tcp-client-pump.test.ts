// The event pump: many events cross into JS in few calls, capped per call, in order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, pumpStats, TcpClient } from '../src/client';
import { killAfter, requireDist, runFixture, type Child } from './fixtures/spawn';

describe('event pump batching', () => {
  // The cluster runs in another process: this test blocks its own JS thread.
  let cluster: Child;
  let entryUrl = '';
  beforeAll(async () => {
    requireDist();
    cluster = runFixture('cluster-process.js', []);
    killAfter(cluster, 120_000);  // safety net only
    await cluster.waitFor('\n');
    entryUrl = /entry (\S+)/.exec(cluster.stdout())?.[1] ?? '';
  });
  afterAll(async () => {
    cluster.proc.kill('SIGKILL');
    await cluster.exited;
  });

  it('delivers queued events in batches of at most 1024, in order, with payloads intact', async () => {
    const client = new TcpClient();
    await client.connect(await getEndpoint(entryUrl, { type: 'TCP', uid: 'pump-1' }));
    const n = 2500;
    const got: number[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('push', (_v, _c, payload) => {
        got.push(payload.readUInt32BE(0));
        if (got.length === n) resolve();
      }),
    );
    const before = pumpStats();
    for (let i = 0; i < n; i++) {
      const body = Buffer.alloc(i % 3 === 0 ? 6000 : 8);  // some payloads go past the slab
      body.writeUInt32BE(i, 0);
      client.send(2, 3, body);  // push-back
    }
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
});
