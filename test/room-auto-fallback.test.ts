// PROTOCOL 10.1, automatic mode: a client in a room does not migrate itself on the offline
// notice; it waits for its room's migration, bounded by the handoff TTL, then migrates alone and
// leaves the room ('left' with 'room-migration-timeout'). A member connected to another node than
// the room's stays where it is when the room moves, and learns the new room id.
import { describe, expect, it } from 'vitest';
import type { DiarkisError } from '../src/client';
import { connectOn, nextRoomEvent, roomTestBed } from './helpers/rooms';

const bed = roomTestBed();

describe.each(['TCP', 'UDP'] as const)('rooms in automatic mode on %s', (type) => {
  const n1 = type === 'TCP' ? 'tcp-1' : 'udp-1';
  const n2 = type === 'TCP' ? 'tcp-2' : 'udp-2';
  const nodes = type === 'TCP' ? { tcpNodes: 2, udpNodes: 0 } : { tcpNodes: 0, udpNodes: 2 };

  it('waits for the room, then after the handoff TTL migrates alone and leaves the room', async () => {
    // The owner never moves the room and the node's grace outlasts the member's TTL.
    const c = await bed.start({ ...nodes, shutdownTimeoutMs: 60_000, roomMigrationGraceMs: 60_000 });
    const owner = await connectOn(c, n1, 'owner', { migration: 'manual' });
    const member = await connectOn(c, n1, 'member', { handoffTtlMs: 400 });
    bed.keep(owner, member);
    const { roomId } = await owner.room.create({ maxMembers: 2 });
    await member.room.join(roomId);
    const errors: DiarkisError[] = [];
    member.on('error', (e) => errors.push(e));
    let migratedAt = 0;
    let offlineAt = 0;
    member.on('offline', () => (offlineAt = Date.now()));
    const moved = new Promise<void>((r) => member.once('migrated', () => r(void (migratedAt = Date.now()))));
    const left = nextRoomEvent(member, 'left');
    const ownerSees = nextRoomEvent(owner, 'memberLeave');
    await c.setNodeState(n1, 'offline');
    expect(await left).toEqual(['room-migration-timeout', roomId]);
    await moved;
    // It waited for the room (the TTL) before moving alone.
    expect(migratedAt - offlineAt).toBeGreaterThanOrEqual(350);
    expect(errors.map((e) => e.code)).toContain('room-migration-timeout');
    expect(await ownerSees).toEqual(['member']);
    expect(member.room.id).toBeUndefined();
    expect(c.rooms()[0]).toMatchObject({ roomId, members: ['owner'] });
    expect(member.state).toBe('connected');
  });

  it('a member on another node stays there when the room moves, and gets the new id', async () => {
    const c = await bed.start({ ...nodes, shutdownTimeoutMs: 60_000 });
    const owner = await connectOn(c, n1, 'owner');
    const far = await connectOn(c, n2, 'far');
    bed.keep(owner, far);
    const { roomId } = await owner.room.create({ maxMembers: 2 });
    await far.room.join(roomId);
    const farMoved = nextRoomEvent(far, 'migrated');
    const ownerMoved = new Promise((r) => owner.once('migrated', r));
    await c.setNodeState(n1, 'offline');
    const [info] = await farMoved;
    await ownerMoved;
    expect(info.oldRoomId).toBe(roomId);
    expect(far.stats().migrations).toBe(0);
    expect(far.room.id).toBe(info.newRoomId);
    const got = new Promise<[string, Buffer]>((r) => far.room.once('message', (from, p) => r([from, p])));
    owner.room.broadcast(Buffer.from('after'));
    const [from, p] = await got;
    expect([from, p.toString()]).toEqual(['owner', 'after']);
  });
});
