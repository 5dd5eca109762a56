/**
 * Cluster.stop() with in-memory rooms while a room migration is under way (the in-process twin of
 * redis-rooms-shutdown.test.ts): stop() must resolve only once the migration and the node's
 * offline steps have ended, and leave nothing behind: no timer on the clock (a member's claim
 * deadline, an owner's grace), nothing fired or written into the caller's store after it.
 *
 * The ordering is driven by a store that holds one call until released, not by timing: the
 * migration is paused inside the store, stop() is called, and only then is it let go.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BaseClient } from '../src/client';
import { ManualClock, MemoryStore, startCluster, type Cluster, type HandoffRecord, type SessionRecord } from '../src/server';
import { connectOn } from './helpers/rooms';

/** Holds the next call of one method until release(); hit resolves once it is held. */
interface Gate {
  hit: Promise<void>;
  release: () => void;
}

class GatedStore extends MemoryStore {
  private gates = new Map<string, { entered: () => void; open: Promise<void>; when: (arg: unknown) => boolean }>();

  gate(method: 'putHandoff' | 'sessionOfUser', when: (arg: unknown) => boolean = () => true): Gate {
    let entered!: () => void;
    let release!: () => void;
    const hit = new Promise<void>((r) => (entered = r));
    const open = new Promise<void>((r) => (release = r));
    this.gates.set(method, { entered, open, when });
    return { hit, release };
  }

  override async putHandoff(rec: HandoffRecord, ttlMs: number): Promise<void> {
    await this.pass('putHandoff', rec);
    return super.putHandoff(rec, ttlMs);
  }

  override async sessionOfUser(uid: string): Promise<SessionRecord | null> {
    await this.pass('sessionOfUser', uid);
    return super.sessionOfUser(uid);
  }

  private async pass(method: string, arg: unknown): Promise<void> {
    const g = this.gates.get(method);
    if (g === undefined || !g.when(arg)) return;
    this.gates.delete(method);
    g.entered();
    await g.open;
  }
}

const clients: BaseClient[] = [];
let cluster: Cluster | null = null;
let store: GatedStore | null = null;
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  await store?.close();
  cluster = null;
  store = null;
});

/** Two TCP nodes on a manual clock; `owner` and `a` in a room held by tcp-1 (the owner's node). */
async function roomOnTcp1(): Promise<{ c: Cluster; clock: ManualClock; s: GatedStore; owner: BaseClient; events: string[] }> {
  const clock = new ManualClock();
  const s = (store = new GatedStore({ clock }));
  const c = (cluster = await startCluster({ tcpNodes: 2, udpNodes: 0, clock, store: s, shutdownTimeoutMs: 60_000, handoffTtlMs: 1500 }));
  // Manual: the clients move only when the room's migration tells them to.
  const owner = await connectOn(c, 'tcp-1', 'owner', { migration: 'manual' });
  const a = await connectOn(c, 'tcp-1', 'a', { migration: 'manual' });
  clients.push(owner, a);
  const { roomId } = await owner.room.create({ maxMembers: 4 });
  await a.room.join(roomId);
  const events: string[] = [];
  for (const e of ['roomMigrated', 'handoff', 'handoff-expired'] as const) c.on(e, () => void events.push(e));
  return { c, clock, s, owner, events };
}

describe('Cluster.stop() and in-memory room migration', () => {
  it('a stop() during a room migration resolves after it ended; no claim deadline is left on the clock', async () => {
    const { c, clock, s, owner, events } = await roomOnTcp1();
    await c.setNodeState('tcp-1', 'offline');
    // The owner's 1/7 moves the room; its handoff is held in the store, mid-migration.
    const gate = s.gate('putHandoff');
    // (Its answer is not awaited: the client's move to a stopping cluster is not this test's.)
    void owner.room.migrate().catch(() => undefined);
    await gate.hit;
    const stopped = c.stop().then(() => void events.push('stopped'));
    gate.release();
    await stopped;
    await s.close();

    // The migration ended (reported) before stop() resolved; nothing of it came after.
    expect(events.slice(-2)).toEqual(['roomMigrated', 'stopped']);
    // The members' claim deadlines (PROTOCOL 10.4) belonged to the stopped cluster: cancelled with it.
    expect(clock.pending).toBe(0);
    const before = [...events];
    clock.advance(60_000);
    expect(events).toEqual(before);
  });

  it('a stop() while an OFFLINE node looks up its room owners leaves no owner grace timer behind', async () => {
    const { c, clock, s, events } = await roomOnTcp1();
    // nodeOffline asks the store where the owner is before it arms the owner's grace (PROTOCOL 10.2).
    const gate = s.gate('sessionOfUser', (uid) => uid === 'owner');
    const offline = c.setNodeState('tcp-1', 'offline');
    await gate.hit;
    const stopped = c.stop().then(() => void events.push('stopped'));
    gate.release();
    await offline;
    await stopped;
    await s.close();

    expect(clock.pending).toBe(0);
    // A grace timer left behind would move the room of a stopped cluster now.
    clock.advance(60_000);
    expect(events).toEqual(['stopped']);
  });
});
