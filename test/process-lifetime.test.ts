// The process lives exactly as long as a ref'd client is open, like net.Socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint } from '../src/client';
import { startCluster, type Cluster } from '../src/server';
import { killAfter, requireDist, runFixture } from './fixtures/spawn';

describe('process lifetime with a native client', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    requireDist();
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 0 });
  });
  afterAll(async () => {
    await cluster.stop();
  });
  const endpoint = async (uid: string): Promise<string> =>
    JSON.stringify(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid }));

  it('exits by itself after close()', async () => {
    const child = runFixture('client-lifetime.js', ['close', await endpoint('life-close')]);
    killAfter(child, 30_000);  // safety net only: a hang fails the test with a kill
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toContain('closed');
  });

  it('stays alive while a ref\'d client is connected', async () => {
    const child = runFixture('client-lifetime.js', ['stay', await endpoint('life-stay')]);
    killAfter(child, 30_000);
    await child.waitFor('connected');
    // A process that would exit does so at once; give it a generous while.
    const early = await Promise.race([child.exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), 1500))]);
    expect(early).toBe('alive');
    expect(cluster.nodes[0].users).toBeGreaterThanOrEqual(1);
    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(null);
  });

  it('exits while connected after unref()', async () => {
    const child = runFixture('client-lifetime.js', ['unref', await endpoint('life-unref')]);
    killAfter(child, 30_000);
    expect(await child.exited).toBe(0);
    expect(child.stdout()).toContain('connected');
    expect(child.stderr()).toBe('');
  });
});
