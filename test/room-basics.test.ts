// Rooms against the cluster (PROTOCOL 10): create, join, info, props, broadcasts reliable and
// unreliable, leave, owner election and the Bad answers; members on two nodes, so room pushes
// reach members on another node through the cluster's push routing.
import { describe, expect, it } from 'vitest';
import { DiarkisError, type BaseClient } from '../src/client';
import type { Cluster } from '../src/server';
import { connectOn, nextRoomEvent, until, roomTestBed } from './helpers/rooms';

const bed = roomTestBed();

async function join(c: Cluster, node: string, uid: string): Promise<BaseClient> {
  const client = await connectOn(c, node, uid);
  bed.keep(client);
  return client;
}

describe.each(['TCP', 'UDP'] as const)('rooms on %s', (type) => {
  const n1 = type === 'TCP' ? 'tcp-1' : 'udp-1';
  const n2 = type === 'TCP' ? 'tcp-2' : 'udp-2';
  const opts = type === 'TCP' ? { tcpNodes: 2, udpNodes: 0 } : { tcpNodes: 0, udpNodes: 2 };

  it('create, join across nodes, info, props, broadcast, leave and owner election', async () => {
    const c = await bed.start(opts);
    const a = await join(c, n1, 'alice');
    const b = await join(c, n2, 'bob');
    const d = await join(c, n1, 'dave');
    const created = await a.room.create({ maxMembers: 3, props: { map: 'dunes' } });
    expect(created.ownerId).toBe('alice');
    expect(a.room.isOwner).toBe(true);
    expect(c.rooms()).toEqual([
      { roomId: created.roomId, nodeId: n1, ownerId: 'alice', maxMembers: 3, members: ['alice'], props: { map: 'dunes' } },
    ]);

    const aliceSeesBob = nextRoomEvent(a, 'memberJoin');
    const joined = await b.room.join(created.roomId);
    expect(joined).toEqual({ roomId: created.roomId, ownerId: 'alice', members: ['alice', 'bob'], props: { map: 'dunes' } });
    expect(await aliceSeesBob).toEqual(['bob']);
    expect(b.room.isOwner).toBe(false);
    await d.room.join(created.roomId);
    expect((await a.room.info()).members).toEqual(['alice', 'bob', 'dave']);

    // A full room, a second room for a member, an unknown room: Bad with a code.
    const e = await join(c, n2, 'erin');
    await expect(e.room.join(created.roomId)).rejects.toMatchObject({ code: 'room-full' });
    await expect(e.room.join('nope')).rejects.toMatchObject({ code: 'room-not-found' });
    await expect(b.room.create({ maxMembers: 2 })).rejects.toMatchObject({ code: 'already-in-room' });
    await expect(e.room.info()).rejects.toBeInstanceOf(DiarkisError);

    // Properties merge and reach every member.
    const propsAtBob = nextRoomEvent(b, 'props');
    expect(await d.room.setProps({ round: 2 })).toEqual({ map: 'dunes', round: 2 });
    expect(await propsAtBob).toEqual([{ map: 'dunes', round: 2 }]);

    // Broadcasts: to every member but the sender, in order; unreliable ones too.
    const got: Record<string, string[]> = { alice: [], bob: [], dave: [] };
    for (const [uid, cl] of [['alice', a], ['bob', b], ['dave', d]] as const) {
      cl.room.on('message', (from, p) => got[uid].push(`${from}:${p.toString()}`));
    }
    for (let i = 0; i < 20; i++) a.room.broadcast(Buffer.from(`m${i}`));
    b.room.broadcast(Buffer.from('hi'), { reliable: false });
    await until([a, b, d], () => got.bob.length === 20 && got.dave.length === 21 && got.alice.length === 1);
    expect(got.bob).toEqual(Array.from({ length: 20 }, (_, i) => `alice:m${i}`));
    expect(got.dave.filter((m) => m.startsWith('alice:'))).toEqual(got.bob);
    expect(got.alice).toEqual(['bob:hi']);

    // The owner leaves: the longest-standing member becomes owner (1/8), the others see 1/3.
    const owner = nextRoomEvent(b, 'ownerChange');
    const left = nextRoomEvent(d, 'memberLeave');
    expect(await a.room.leave()).toEqual({ roomId: created.roomId });
    expect(await owner).toEqual(['bob']);
    expect(await left).toEqual(['alice']);
    expect(b.room.isOwner).toBe(true);
    expect(a.room.id).toBeUndefined();
    await expect(a.room.leave()).rejects.toMatchObject({ code: 'not-in-room' });
    expect(c.rooms()[0]).toMatchObject({ ownerId: 'bob', members: ['bob', 'dave'] });

    // The last members leave: the room is gone.
    await b.room.leave();
    await d.room.leave();
    expect(c.rooms()).toEqual([]);
  });

  it('bad bodies get Bad answers; a broadcast outside a room is dropped and counted', async () => {
    const c = await bed.start(opts);
    const a = await join(c, n1, 'alice');
    expect((await a.request(1, 1, Buffer.from('{not json'))).status).toBe(4);
    expect((await a.request(1, 1, Buffer.from('{"maxMembers":0}'))).status).toBe(4);
    expect((await a.request(1, 2, Buffer.from('[]'))).status).toBe(4);
    expect((await a.request(1, 99)).status).toBe(4);
    // Properties are bounded: a set that would exceed 64 KiB of JSON is refused, the room unchanged.
    await a.room.create({ maxMembers: 2, props: { keep: 1 } });
    await expect(a.room.setProps({ big: 'x'.repeat(40_000), more: 'y'.repeat(30_000) })).rejects.toMatchObject({ code: 'invalid-argument' });
    expect((await a.room.info()).props).toEqual({ keep: 1 });
    await a.room.leave();
    const dropped = new Promise((r) => c.once('drop', r));
    a.send(1, 4, Buffer.from('lonely'));
    await dropped;
    expect(c.stats(n1).drops.unexpected).toBeGreaterThanOrEqual(1);
    // Still a working session.
    expect((await a.request(2, 1, Buffer.from('ok'))).payload.toString()).toBe('ok');
  });
});
