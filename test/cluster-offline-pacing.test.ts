// Issue 12: an OFFLINE node paces its offline notices (a window at a time, the next as sessions
// leave, a time cap per slot, late sessions in turn, ONLINE stops it), and every client of a paced
// node still moves with nothing lost or duplicated.
import { afterEach, describe, expect, it } from 'vitest';
import { getEndpoint, TcpClient, UdpClient, type BaseClient, type MigrationInfo } from '../src/client';
import { ManualClock, startCluster, type Cluster, type MigrationPhaseEvent } from '../src/server';
import { fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';
import { sequencer, userData } from './helpers/migration-streams';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Resolves with the first push ver 0 cmd 1 (the offline notice) a raw client gets. */
async function noticed(c: Cluster, uid: string): Promise<{ client: TsTcpClient; notice: Promise<void> }> {
  let got = (): void => undefined;
  const notice = new Promise<void>((r) => (got = r));
  const client = await TsTcpClient.connect(await fetchEndpoint(c.entryUrl, 'TCP', uid), {
    onPush: (ver, cmd) => {
      if (ver === 0 && cmd === 1) got();
    },
  });
  cleanups.push(() => client.destroy());
  return { client, notice };
}

describe('offline-notice pacing (cluster)', () => {
  it('notifies a window, then the next as a client leaves or a slot times out; late connects in turn; ONLINE stops it', async () => {
    const clock = new ManualClock(Date.now());
    const c = await startCluster({ tcpNodes: 1, udpNodes: 0, clock, offlinePacing: { window: 2, slotMs: 250, queueMs: 0 }, shutdownTimeoutMs: 60_000 });
    cleanups.push(() => c.stop());
    const sentTo: string[] = [];
    const closed: string[] = [];
    let onClose = (): void => undefined;
    c.on('migration-phase', (e: MigrationPhaseEvent) => {
      if (e.phase === 'notice-sent') sentTo.push(e.sid as string);
    });
    c.on('session-close', (e) => {
      closed.push(e.uid);
      onClose();
    });
    const clients = [];
    for (let i = 0; i < 5; i++) clients.push(await noticed(c, `p${i}`));
    // Registered before OFFLINE, connected after it.
    const lateEp = await fetchEndpoint(c.entryUrl, 'TCP', 'late');

    await c.setNodeState('tcp-1', 'offline');
    expect(sentTo.length).toBe(2);
    await Promise.all([clients[0]?.notice, clients[1]?.notice]);

    // p0 leaves: its slot goes to the next one at once.
    const gone = new Promise<void>((r) => (onClose = r));
    clients[0]?.client.destroy();
    await gone;
    expect(sentTo.length).toBe(3);
    await clients[2]?.notice;

    // p1 and p2 never move: their slots run out after 250 ms.
    clock.advance(249);
    expect(sentTo.length).toBe(3);
    clock.advance(1);
    expect(sentTo.length).toBe(5);
    await Promise.all([clients[3]?.notice, clients[4]?.notice]);

    // A session that connects now waits for a slot (p3 and p4 hold both), then is told.
    let lateGot = (): void => undefined;
    const lateNotice = new Promise<void>((r) => (lateGot = r));
    const late = await TsTcpClient.connect(lateEp, { onPush: (ver, cmd) => ver === 0 && cmd === 1 && lateGot() });
    cleanups.push(() => late.destroy());
    expect(sentTo.length).toBe(5);
    clock.advance(250);
    expect(sentTo.length).toBe(6);
    await lateNotice;

    // ONLINE again: the pacing stops; a session that connects then is not told.
    await c.setNodeState('tcp-1', 'online');
    const after = await noticed(c, 'after');
    clock.advance(10_000);
    expect((await after.client.heartbeat(1)).state).toBe('online');
    expect(sentTo.length).toBe(6);
  });

  it('off (false): every connected client is told at once, as PROTOCOL 7.1 says', async () => {
    const c = await startCluster({ tcpNodes: 1, udpNodes: 0, offlinePacing: false });
    cleanups.push(() => c.stop());
    let sent = 0;
    c.on('migration-phase', (e: MigrationPhaseEvent) => void (e.phase === 'notice-sent' && sent++));
    const clients = [];
    for (let i = 0; i < 6; i++) clients.push(await noticed(c, `u${i}`));
    await c.setNodeState('tcp-1', 'offline');
    expect(sent).toBe(6);
    await Promise.all(clients.map((x) => x.notice));
  });

  for (const type of ['TCP', 'UDP'] as const) {
    it(`every ${type} client of a paced OFFLINE node moves, nothing lost or duplicated, at most a window told ahead of the claims`, async () => {
      const window = 4;
      // No slot times out, the window does not open (drainMs) and the deadline (half the shutdown
      // timeout) lies past the test's: only
      // completed moves (the targets' claims, told to the old node) free the window's slots.
      const c = await startCluster({ tcpNodes: type === 'TCP' ? 2 : 0, udpNodes: type === 'UDP' ? 2 : 0, offlinePacing: { window, slotMs: 600_000, queueMs: 0, drainMs: 600_000 }, shutdownTimeoutMs: 600_000 });
      cleanups.push(() => c.stop());
      const old = `${type.toLowerCase()}-1`;
      await c.setNodeState(`${type.toLowerCase()}-2`, 'taken');
      const events: MigrationPhaseEvent[] = [];
      c.on('migration-phase', (e: MigrationPhaseEvent) => events.push(e));
      const clients: BaseClient[] = [];
      const moved: Promise<MigrationInfo>[] = [];
      for (let i = 0; i < 30; i++) {
        const client: BaseClient = type === 'TCP' ? new TcpClient({ requestTimeoutMs: 60_000 }) : new UdpClient({ requestTimeoutMs: 60_000 });
        cleanups.push(() => client.destroy());
        await client.connect(await getEndpoint(c.entryUrl, { type, uid: `paced-${type}-${i}` }));
        clients.push(client);
        moved.push(new Promise((r) => client.once('migrated', r)));
      }
      await c.setNodeState(`${type.toLowerCase()}-2`, 'online');
      const streams = clients.map((x) => sequencer(x, 40));
      await c.setNodeState(old, 'offline');
      await Promise.all(moved);
      const sent = await Promise.all(streams.map((s) => s.stop()));
      for (const [i, x] of clients.entries()) {
        const d = await userData(x);
        expect({ lastSeq: d.lastSeq, gaps: d.gaps ?? 0, dups: d.dups ?? 0 }).toEqual({ lastSeq: sent[i], gaps: 0, dups: 0 });
      }
      // Each session told once; when a notice went out, at most `window` told sessions had not
      // reached their target's claim.
      const atOld = events.filter((e) => e.nodeId === old);
      const claimsAndNotices = events.filter((e) => (e.nodeId === old && e.phase === 'notice-sent') || (e.nodeId !== old && e.phase === 'target-accepted'));
      const notices = atOld.filter((e) => e.phase === 'notice-sent').map((e) => e.sid);
      expect(new Set(notices).size).toBe(notices.length);
      // A client may learn of OFFLINE from an echo or heartbeat answer (state 2) before its notice:
      // it moves then, and its place in the queue goes. Every other one is told.
      const handedOff = atOld.filter((e) => e.phase === 'handoff-stored').map((e) => e.sid);
      expect(new Set(handedOff).size).toBe(30);
      for (const sid of handedOff) {
        const first = atOld.find((e) => e.sid === sid && (e.phase === 'notice-sent' || e.phase === 'migrate-request'));
        if (first?.phase === 'migrate-request') expect(notices).not.toContain(sid);
        else expect(notices).toContain(sid);
      }
      let ahead = 0;
      let most = 0;
      for (const e of claimsAndNotices) {
        if (e.phase === 'notice-sent') most = Math.max(most, ++ahead);
        else ahead--;
      }
      expect(most).toBeLessThanOrEqual(window);
      expect(most).toBeGreaterThan(0);
    }, 120_000);
  }
});
