// Room migration (PROTOCOL 10) on TCP and UDP: 8 members stream broadcasts while their room's
// node goes offline. Every member ends in the new room (new id, same owner, same props), nobody
// sees a join broadcast, and every broadcast reaches every other member once and in order.
import { describe, expect, it } from 'vitest';
import type { BaseClient } from '../src/client';
import { connectOn, expectEveryBroadcast, expectMovedOnce, nextRoomEvent, roomTestBed, stream, watchRoom } from './helpers/rooms';

const bed = roomTestBed();

const MEMBERS = 8;

describe.each(['TCP', 'UDP'] as const)('room migration on %s', (type) => {
  const n1 = type === 'TCP' ? 'tcp-1' : 'udp-1';
  const n2 = type === 'TCP' ? 'tcp-2' : 'udp-2';
  const nodes = type === 'TCP' ? { tcpNodes: 2, udpNodes: 0 } : { tcpNodes: 0, udpNodes: 2 };

  it('8 members streaming broadcasts move with their room: owner, props, members kept; nothing lost, duplicated or reordered', async () => {
    const c = await bed.start({ ...nodes, shutdownTimeoutMs: 60_000 });
    const uids = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
    const members: BaseClient[] = [];
    for (const uid of uids) members.push(await connectOn(c, n1, uid));
    bed.keep(...members);
    const { roomId } = await members[0].room.create({ maxMembers: MEMBERS, props: { map: 'dunes', round: 3 } });
    for (const m of members.slice(1)) await m.room.join(roomId);

    // What each member receives, per sender; join broadcasts and migrations seen from now on.
    const { got, seen } = watchRoom(members);
    const reported = new Promise<{ newRoomId: string; oldRoomId: string }>((r) => c.once('roomMigrated', r));
    const clientMoves = members.map((m) => new Promise((r) => m.once('migrated', r)));
    const streams = members.map((m) => stream(m));
    await new Promise((r) => setTimeout(r, 30));

    await c.setNodeState(n1, 'offline');
    const report = await reported;
    await Promise.all(clientMoves);
    await new Promise((r) => setTimeout(r, 30));  // streaming on in the new room
    const sent = await Promise.all(streams.map((s) => s.stop()));

    await expectEveryBroadcast(members, got, uids, sent);
    expectMovedOnce(seen, roomId, report, 'm0');
    expect(c.rooms()).toEqual([
      { roomId: report.newRoomId, nodeId: n2, ownerId: 'm0', maxMembers: MEMBERS, members: uids, props: { map: 'dunes', round: 3 } },
    ]);
    for (const m of members) {
      expect(m.state).toBe('connected');
      expect(m.room.id).toBe(report.newRoomId);
      expect(m.stats().migrations).toBe(1);
    }
    const info = await members[5].room.info();
    expect(info).toEqual({ roomId: report.newRoomId, ownerId: 'm0', members: uids, props: { map: 'dunes', round: 3 } });
    expect(c.nodes.find((n) => n.id === n2)?.users).toBe(MEMBERS);
  });

  it('the owner fails to arrive: removed after the handoff TTL, another member is owner (ownerChange)', async () => {
    const c = await bed.start({ ...nodes, shutdownTimeoutMs: 60_000, handoffTtlMs: 1500, roomMigrationGraceMs: 100 });
    const owner = await connectOn(c, n1, 'owner', { migration: 'manual' });
    const a = await connectOn(c, n1, 'a');
    const b = await connectOn(c, n1, 'b');
    bed.keep(owner, a, b);
    const { roomId } = await owner.room.create({ maxMembers: 4 });
    await a.room.join(roomId);
    await b.room.join(roomId);
    // The owner's client dies as its room moves (before it can claim at the target).
    owner.room.once('migrated', () => owner.destroy());
    const ownerChange = nextRoomEvent(b, 'ownerChange');
    const left = nextRoomEvent(b, 'memberLeave');
    await c.setNodeState(n1, 'offline');
    expect(await left).toEqual(['owner']);
    expect(await ownerChange).toEqual(['a']);
    expect(a.room.isOwner).toBe(true);
    expect(c.rooms()[0]).toMatchObject({ ownerId: 'a', members: ['a', 'b'], nodeId: n2 });
  });

  it('a member fails to arrive: removed after the handoff TTL (memberLeave), the owner stays', async () => {
    const c = await bed.start({ ...nodes, shutdownTimeoutMs: 60_000, handoffTtlMs: 1500 });
    const owner = await connectOn(c, n1, 'owner');
    const a = await connectOn(c, n1, 'a');
    const b = await connectOn(c, n1, 'b');
    bed.keep(owner, a, b);
    const { roomId } = await owner.room.create({ maxMembers: 4 });
    await a.room.join(roomId);
    await b.room.join(roomId);
    b.room.once('migrated', () => b.destroy());
    const left = nextRoomEvent(owner, 'memberLeave');
    const ownerMoved = new Promise((r) => owner.once('migrated', r));
    await c.setNodeState(n1, 'offline');
    await ownerMoved;
    expect(await left).toEqual(['b']);
    expect(owner.room.isOwner).toBe(true);
    expect(c.rooms()[0]).toMatchObject({ ownerId: 'owner', members: ['owner', 'a'], nodeId: n2 });
  });

  it('a non-owner calling migrate() gets Bad not-owner and keeps working', async () => {
    const c = await bed.start({ ...nodes, shutdownTimeoutMs: 60_000 });
    const owner = await connectOn(c, n1, 'owner', { migration: 'manual' });
    const a = await connectOn(c, n1, 'a', { migration: 'manual' });
    bed.keep(owner, a);
    const { roomId } = await owner.room.create({ maxMembers: 2 });
    await a.room.join(roomId);
    await c.setNodeState(n1, 'offline');
    await expect(a.room.migrate()).rejects.toMatchObject({ code: 'not-owner' });
    expect(a.state).toBe('connected');
    expect((await a.request(2, 1, Buffer.from('still here'))).payload.toString()).toBe('still here');
    // The owner moves the room; both members end up in it.
    const aMoved = new Promise((r) => a.once('migrated', r));
    const info = await owner.room.migrate();
    await aMoved;
    expect(info.oldRoomId).toBe(roomId);
    expect((await a.room.info()).roomId).toBe(info.newRoomId);
  });
});
