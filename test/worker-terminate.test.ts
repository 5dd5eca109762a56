// Worker threads using the client, terminated mid-traffic, do not crash the process;
// the process-wide runtime is shared and handed over between environments.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, type Endpoint } from '../src/client';
import { startCluster, type Cluster } from '../src/server';
import { killAfter, requireDist, runFixture } from './fixtures/spawn';

describe('worker threads terminated mid-traffic', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    requireDist();
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 0 });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  /** Group 0: the main thread's endpoint; groups 1..3: one worker each, 3 clients per worker. */
  const groups = async (tag: string): Promise<string> => {
    const all: Endpoint[][] = [];
    for (let g = 0; g < 4; g++) {
      const n = g === 0 ? 1 : 3;
      const eps: Endpoint[] = [];
      for (let i = 0; i < n; i++) eps.push(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: `${tag}-${g}-${i}` }));
      all.push(eps);
    }
    return JSON.stringify(all);
  };

  for (const mode of ['main-first', 'workers-only']) {
    it(`the parent keeps working and exits 0 (${mode})`, async () => {
      const child = runFixture('worker-terminate.js', [mode, await groups(mode)]);
      killAfter(child, 60_000);  // safety net only
      const code = await child.exited;
      expect(child.stderr()).toBe('');
      expect(code).toBe(0);
      const line = child.stdout().split('\n').find((l) => l.startsWith('ok '));
      expect(line).toBeDefined();
      const stats = JSON.parse((line ?? 'ok {}').slice(3)) as { batches: number; events: number; clients: number };
      expect(stats.events).toBeGreaterThanOrEqual(stats.batches);
      expect(stats.clients).toBe(0);
    });
  }
});
