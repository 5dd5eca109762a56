// A JavaScript thread blocked for longer than the heartbeat allows, on each driver.
//  - 'thread': the network thread keeps the heartbeats on time while JS is blocked.
//  - 'loop' (the default): nothing runs while JS is blocked; when it returns, the
//    overdue timer reads what the socket holds before judging liveness, and the
//    heartbeats the stalled client never sent are not counted as missed: it asks
//    again and the connection survives when the server answers.
import { describe, expect, it } from 'vitest';
import { getEndpoint, TcpClient } from '../src/client';
import { clusterProcess } from './fixtures/spawn';

function blockFor(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // a synchronous block of the JS thread, as a long computation would be
  }
}

describe('a blocked JS thread', () => {
  // The cluster runs in another process: these tests block their own JS thread.
  const cluster = clusterProcess();

  it('thread driver: heartbeats stay on time while JS blocks for 5 heartbeat intervals', async () => {
    const client = new TcpClient({ io: 'thread', heartbeatIntervalMs: 200, heartbeatMissLimit: 2 });
    await client.connect(await getEndpoint(cluster.entryUrl(), { type: 'TCP', uid: 'blocked-thread' }));
    const before = client.stats().heartbeatsAnswered;
    blockFor(1000);
    // Answered on the network thread during the block (stats are live).
    expect(client.stats().heartbeatsAnswered - before).toBeGreaterThanOrEqual(3);
    expect(client.state).toBe('connected');
    const res = await client.request(2, 1, Buffer.from('after the block'));
    expect(res.payload.toString()).toBe('after the block');
    await client.close();
  });

  it('loop driver, default options: a 20 s block keeps the connection when the server answers', async () => {
    const client = new TcpClient({ io: 'loop' });
    await client.connect(await getEndpoint(cluster.entryUrl(), { type: 'TCP', uid: 'blocked-loop' }));
    // A heartbeat is in flight at the start of the block (the first one answered
    // at connect; the next goes out within the 5 s interval): wait for one more.
    await new Promise<void>((resolve) => client.once('heartbeat', () => resolve()));
    let disconnected = '';
    client.on('disconnect', (reason) => (disconnected = reason));
    blockFor(20_000);  // past heartbeatIntervalMs x heartbeatMissLimit = 15 s
    const res = await client.request(2, 1, Buffer.from('after 20 s'));
    expect(res.payload.toString()).toBe('after 20 s');
    expect(disconnected).toBe('');
    expect(client.state).toBe('connected');
    await client.close();
  }, 60_000);
});
