/**
 * A node's process closes its Redis connection on the way out: RedisRooms.idle() must hold it until
 * every room migration the process runs has ended in Redis and told the target (PROTOCOL 10.5).
 * The room migration's last steps run after its last member left the node, so an "empty" node is
 * not a finished one: a store closed then left the room marked moving, and the target never reported
 * roomMigrated (the flaky "8 members streaming move with their room" test, fourth session).
 */
import Redis from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/server/redis-store';
import { RedisRooms } from '../src/server/rooms/redis-rooms';
import type { RoomNode } from '../src/server/rooms/room-migration';
import { RoomCmd } from '../src/server/rooms/room-wire';
import type { Session, SessionLink } from '../src/server/session';
import type { NodeStats } from '../src/server/types';
import { RedisServer } from './helpers/redis-server';

let redis: RedisServer | null = null;
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const c of closers.splice(0)) await c().catch(() => undefined);
  await redis?.stop();
  redis = null;
});

/** Node `a` of this process, OFFLINE, holding no session (the room moves without members here). */
function offlineNode(): RoomNode {
  return {
    id: 'a',
    type: 'TCP',
    state: 'offline',
    stats: {} as NodeStats,
    emit: () => undefined,
    localSession: () => undefined,
    pushHandOff: () => Promise.resolve(false),
    answerHandOff: () => Promise.resolve(false),
  };
}

describe('room migration and the end of a node process', () => {
  it('idle() resolves only once the move has ended in Redis and the target was told; the store may close then', async () => {
    redis = await RedisServer.start();
    const store = await RedisStore.connect({ url: redis.url });
    closers.push(() => store.close());
    const raw = new Redis(redis.url);
    closers.push(() => raw.quit());
    // The target: an ONLINE node of another process (only its registry entry and stream matter).
    await store.registerNode({ id: 'b', type: 'TCP', host: '127.0.0.1', port: 1, state: 'online' });
    const a = offlineNode();
    const rooms = new RedisRooms({ store, nodes: new Map([['a', a]]), clock: { now: Date.now, setTimer: () => () => undefined }, emit: () => undefined });
    const answers: Buffer[] = [];
    const session = { uid: 'owner', sid: '0'.repeat(32), encode: (_v: number, _c: number, _s: number, p: Uint8Array) => Buffer.from(p) } as unknown as Session;
    const link: SessionLink = { sendPacket: (p: Buffer) => void answers.push(p) } as unknown as SessionLink;
    await rooms.handle(a, session, link, RoomCmd.Create, Buffer.from('{"maxMembers":2}'));
    const { roomId } = JSON.parse(answers[0].toString()) as { roomId: string };

    // The owner is connected nowhere: the room moves at once, in the background of nodeOffline.
    await rooms.nodeOffline('a');
    await rooms.idle();
    await store.close();

    const [moved] = await new RedisRooms({ store: await reconnect(redis.url), nodes: new Map(), clock: { now: Date.now, setTimer: () => () => undefined }, emit: () => undefined }).list();
    expect(moved).toMatchObject({ nodeId: 'b', ownerId: 'owner' });
    expect(moved.roomId).not.toBe(roomId);
    expect(await raw.hget(`diarkis:room:${moved.roomId}`, 'mig')).toBe('0');
    const told = (await raw.xrange('diarkis:pq:b', '-', '+')).map(([, f]) => f.join(' '));
    expect(told).toContainEqual(`k x t room-migrated n ${moved.roomId} o ${roomId}`);
  }, 30_000);

  it('idle() waits for the offline walk too: a grace timer it arms is the stop()\'s to cancel, not left behind', async () => {
    redis = await RedisServer.start();
    const store = await RedisStore.connect({ url: redis.url });
    closers.push(() => store.close());
    await store.registerNode({ id: 'b', type: 'TCP', host: '127.0.0.1', port: 1, state: 'online' });
    // The owner is connected to node a: the walk arms its grace (PROTOCOL 10.2) after a store lookup.
    await store.registerSession({ uid: 'owner', sid: '0'.repeat(32), nodeId: 'a', key: '', iv: '', macKey: '', clientKey: '', data: {} });
    const armed = new Set<number>();
    let n = 0;
    const clock = {
      now: Date.now,
      setTimer: () => {
        const id = n++;
        armed.add(id);
        return () => void armed.delete(id);
      },
    };
    const a = offlineNode();
    const rooms = new RedisRooms({ store, nodes: new Map([['a', a]]), clock, emit: () => undefined });
    const session = { uid: 'owner', sid: '0'.repeat(32), encode: (_v: number, _c: number, _s: number, p: Uint8Array) => Buffer.from(p) } as unknown as Session;
    await rooms.handle(a, session, { sendPacket: () => undefined } as unknown as SessionLink, RoomCmd.Create, Buffer.from('{"maxMembers":2}'));

    // Cluster.stop()'s order: idle(), then stop(); the walk was started and not awaited (emitWithRooms).
    const walk = rooms.nodeOffline('a');
    await rooms.idle();
    rooms.stop();
    await walk;
    expect(armed.size).toBe(0);
  }, 30_000);
});

async function reconnect(url: string): Promise<RedisStore> {
  const s = await RedisStore.connect({ url });
  closers.push(() => s.close());
  return s;
}
