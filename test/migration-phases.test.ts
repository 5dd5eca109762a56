// Issue 12: every live migration reports its phases ('migration-phase' events), on the old node
// and the target, in the order the move passes them. Presence and order only, never speed.
import { afterEach, describe, expect, it } from 'vitest';
import { getEndpoint, TcpClient, UdpClient, type BaseClient } from '../src/client';
import { MIGRATION_PHASES, PhaseLog, startCluster, type Cluster, type MigrationPhaseEvent } from '../src/server';
import { u32 } from './helpers/migration-streams';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

for (const type of ['TCP', 'UDP'] as const) {
  describe(`migration phases (${type})`, () => {
    it('reports every phase once per moved session, in order, from the offline notice to the first answer', async () => {
      const c: Cluster = await startCluster({ tcpNodes: type === 'TCP' ? 2 : 0, udpNodes: type === 'UDP' ? 2 : 0, shutdownTimeoutMs: 60_000 });
      cleanups.push(() => c.stop());
      const events: MigrationPhaseEvent[] = [];
      let linkClosed = (): void => undefined;
      const oldLinkClosed = new Promise<void>((r) => (linkClosed = r));
      c.on('migration-phase', (e) => {
        events.push(e);
        if (e.phase === 'old-link-closed') linkClosed();
      });
      const ep = await getEndpoint(c.entryUrl, { type, uid: `phases-${type}` });
      const client: BaseClient = type === 'TCP' ? new TcpClient() : new UdpClient();
      cleanups.push(() => client.destroy());
      await client.connect(ep);
      expect((await client.request(2, 4, u32(1))).status).toBe(1);
      const oldNode = c.nodeIdAt(ep.serverPort) as string;
      const moved = new Promise((r) => client.once('migrated', r));
      await c.setNodeState(oldNode, 'offline');
      await moved;
      // The first answer by the target: a request after the move.
      expect((await client.request(2, 4, u32(2))).status).toBe(1);
      const sid = events.find((e) => e.phase === 'migrate-request')?.sid as string;
      expect(sid).toMatch(/^[0-9a-f]{32}$/);
      await oldLinkClosed;

      const log = new PhaseLog();
      for (const e of events) log.add(e);
      const seen = log.phasesOf(sid);
      // Every phase once; 'offline-notice' is the node's, the rest this session's.
      expect(new Set(seen.map((p) => p.phase))).toEqual(new Set(MIGRATION_PHASES));
      expect(events.filter((e) => e.sid === sid).length).toBe(MIGRATION_PHASES.length - 1);
      const at = new Map(seen.map((p) => [p.phase, p.at]));
      const chain = ['offline-notice', 'notice-sent', 'migrate-request', 'handoff-stored', 'answer-sent', 'target-accepted', 'claim-checked', 'first-answer'] as const;
      for (let i = 1; i < chain.length; i++) expect(at.get(chain[i]) as number).toBeGreaterThanOrEqual(at.get(chain[i - 1]) as number);
      // The old link closes after the answer went out (its timing relative to the target's is free).
      expect(at.get('old-link-closed') as number).toBeGreaterThanOrEqual(at.get('answer-sent') as number);
      const old = events.filter((e) => e.sid === sid && ['migrate-request', 'handoff-stored', 'answer-sent', 'old-link-closed'].includes(e.phase));
      expect(new Set(old.map((e) => e.nodeId))).toEqual(new Set([oldNode]));
      const target = events.filter((e) => e.sid === sid && ['target-accepted', 'claim-checked', 'first-answer'].includes(e.phase));
      expect(new Set(target.map((e) => e.nodeId)).size).toBe(1);
      expect(target[0]?.nodeId).not.toBe(oldNode);
      expect(log.breakdown().every((r) => r.samples === 1 && r.p50Ms >= 0)).toBe(true);
    });
  });
}
