// A throwing event listener surfaces as an uncaught exception without losing the
// rest of its batch (child process: an uncaught exception would end a test worker).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint } from '../src/client';
import { startCluster, type Cluster } from '../src/server';
import { killAfter, requireDist, runFixture } from './fixtures/spawn';

describe('a throwing listener', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    requireDist();
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 0 });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('is reported as uncaught and the other events still arrive', async () => {
    const ep = await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'throws-1' });
    const child = runFixture('listener-throws.js', [JSON.stringify(ep)]);
    killAfter(child, 30_000);  // safety net only
    expect(await child.exited).toBe(0);
    expect(child.stderr()).toBe('');
    expect(child.stdout()).toContain('ok 50 1');
  });
});
