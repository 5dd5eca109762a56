/**
 * Rooms on a real redis-server across node processes (`diarkis-node entry` + two `diarkis-node
 * node`): room basics with members on two processes; room migration from one process to the other
 * on TCP and UDP with 8 members streaming broadcasts (late requests at the old node forwarded to
 * the target through Redis); a member that fails to arrive is removed when its handoff expires.
 */
import { afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { getEndpoint, TcpClient, UdpClient, type BaseClient } from '../src/client';
import { RedisStore } from '../src/server/redis-store';
import { RedisRooms } from '../src/server/rooms/redis-rooms';
import { BuiltinCmd, VER_BUILTIN } from '../src/protocol';
import { ensureBuilt, RedisServer, RoleProcess } from './helpers/redis-server';
import { decodeMigrateAnswer, fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';
import { describeProgress, expectEveryBroadcast, expectMovedOnce, nextRoomEvent, orFail, recordBroadcasts, stream, until, watchRoom } from './helpers/rooms';

let redis: RedisServer | null = null;
const procs: RoleProcess[] = [];
const clients: BaseClient[] = [];
const stores: RedisStore[] = [];
const raw: TsTcpClient[] = [];

beforeAll(() => {
  ensureBuilt();
}, 120_000);

afterEach(async (ctx) => {
  // What the role processes said (events, stderr): on a failure always, else with ROOMS_DEBUG=1.
  if (process.env.ROOMS_DEBUG || ctx.task.result?.state === 'fail') for (const p of procs) console.log(JSON.stringify(p.events), p.stderr);
  for (const c of clients.splice(0)) c.destroy();
  for (const c of raw.splice(0)) c.destroy();
  for (const s of stores.splice(0)) await s.close();
  await Promise.all(procs.splice(0).map((p) => p.stop()));
  await redis?.stop();
  redis = null;
});

type Transport = 'TCP' | 'UDP';

async function role(args: string[]): Promise<{ p: RoleProcess; ready: Record<string, unknown> }> {
  const r = await RoleProcess.start(args);
  procs.push(r.p);
  return r;
}

/** Redis, the entry process and node `a` of `type`; `node()` starts more nodes. */
async function cluster(type: Transport, nodeArgs: string[] = []): Promise<{ entryUrl: string; node: (id: string) => Promise<{ p: RoleProcess; port: number }> }> {
  redis = await RedisServer.start();
  const url = redis.url;
  const entry = await role(['entry', '--port', '0', '--redis', url]);
  return {
    entryUrl: String(entry.ready.url),
    node: async (id) => {
      const n = await role(['node', '--type', type, '--id', id, '--redis', url, '--shutdown-timeout', '30000', ...nodeArgs]);
      return { p: n.p, port: Number(n.ready.port) };
    },
  };
}

async function connect(entryUrl: string, type: Transport, uid: string, opts: { handoffTtlMs?: number } = {}): Promise<{ client: BaseClient; port: number }> {
  const ep = await getEndpoint(entryUrl, { type, uid });
  const options = { requestTimeoutMs: 60_000, ...opts };
  const client: BaseClient = type === 'TCP' ? new TcpClient(options) : new UdpClient(options);
  clients.push(client);
  await client.connect(ep);
  return { client, port: ep.serverPort };
}

async function roomsIn(url: string): Promise<Awaited<ReturnType<RedisRooms['list']>>> {
  const store = await RedisStore.connect({ url });
  stores.push(store);
  return new RedisRooms({ store, nodes: new Map(), clock: { now: Date.now, setTimer: () => () => undefined }, emit: () => undefined }).list();
}

describe('rooms on Redis across node processes', () => {
  it('create, join from another process, info, props, broadcasts, leave and owner election', async () => {
    const c = await cluster('TCP');
    const a = await c.node('tcp-a');
    const alice = await connect(c.entryUrl, 'TCP', 'alice');
    const b = await c.node('tcp-b');
    // The entry hands out the least loaded node: bob and dave land on the other process.
    const bob = await connect(c.entryUrl, 'TCP', 'bob');
    expect([alice.port, bob.port]).toEqual([a.port, b.port]);
    const dave = await connect(c.entryUrl, 'TCP', 'dave');
    const [A, B, D] = [alice.client, bob.client, dave.client];

    const { roomId } = await A.room.create({ maxMembers: 3, props: { map: 'dunes', list: [] } });
    const aliceSeesBob = nextRoomEvent(A, 'memberJoin');
    expect(await B.room.join(roomId)).toEqual({ roomId, ownerId: 'alice', members: ['alice', 'bob'], props: { map: 'dunes', list: [] } });
    expect(await aliceSeesBob).toEqual(['bob']);
    await D.room.join(roomId);
    expect((await A.room.info()).members).toEqual(['alice', 'bob', 'dave']);
    expect(await roomsIn(redis?.url ?? '')).toEqual([
      { roomId, nodeId: 'tcp-a', ownerId: 'alice', maxMembers: 3, members: ['alice', 'bob', 'dave'], props: { map: 'dunes', list: [] } },
    ]);

    const erin = (await connect(c.entryUrl, 'TCP', 'erin')).client;
    await expect(erin.room.join(roomId)).rejects.toMatchObject({ code: 'room-full' });
    await expect(erin.room.join('nope')).rejects.toMatchObject({ code: 'room-not-found' });
    await expect(B.room.create({ maxMembers: 2 })).rejects.toMatchObject({ code: 'already-in-room' });
    await expect(erin.room.info()).rejects.toMatchObject({ code: 'not-in-room' });

    // Props merge (JSON kept as sent) and reach members on both processes.
    const propsAtAlice = nextRoomEvent(A, 'props');
    expect(await B.room.setProps({ round: 2.5 })).toEqual({ map: 'dunes', list: [], round: 2.5 });
    expect(await propsAtAlice).toEqual([{ map: 'dunes', list: [], round: 2.5 }]);

    // Broadcasts cross processes, in order, to every member but the sender; unreliable ones too.
    const got = recordBroadcasts([A, B, D]);
    for (let i = 1; i <= 50; i++) A.room.broadcast(Buffer.from(String(i)));
    B.room.broadcast(Buffer.from('7'), { reliable: false });
    await until([A, B, D], () => (got[1].get('alice')?.length ?? 0) === 50 && (got[2].get('alice')?.length ?? 0) === 50 && got[0].has('bob'));
    const fifty = Array.from({ length: 50 }, (_, i) => i + 1);
    expect(got[1].get('alice')).toEqual(fifty);
    expect(got[2].get('alice')).toEqual(fifty);
    expect(got[0].get('bob')).toEqual([7]);
    expect(got[1].has('bob')).toBe(false);

    // The owner leaves: the longest-standing member (on the other process) becomes owner.
    const owner = [nextRoomEvent(B, 'ownerChange'), nextRoomEvent(D, 'ownerChange')];
    const left = nextRoomEvent(B, 'memberLeave');
    expect(await A.room.leave()).toEqual({ roomId });
    expect(await Promise.all(owner)).toEqual([['bob'], ['bob']]);
    expect(await left).toEqual(['alice']);
    expect(B.room.isOwner).toBe(true);

    // A member whose session ends leaves its room (session-close in its node's process).
    const daveGone = nextRoomEvent(B, 'memberLeave');
    D.destroy();
    expect(await daveGone).toEqual(['dave']);
    await B.room.leave();
    expect(await roomsIn(redis?.url ?? '')).toEqual([]);
  }, 60_000);
});

const MEMBERS = 8;

describe.each(['TCP', 'UDP'] as const)('room migration between node processes on %s', (type) => {
  it('8 members streaming move with their room to the other process: owner, props, members kept; nothing lost, duplicated or reordered', async () => {
    const c = await cluster(type);
    const a = await c.node(`${type}-a`);
    const uids = Array.from({ length: MEMBERS }, (_, i) => `m${i}`);
    const members: BaseClient[] = [];
    for (const uid of uids) members.push((await connect(c.entryUrl, type, uid)).client);
    const { roomId } = await members[0].room.create({ maxMembers: MEMBERS, props: { map: 'dunes', round: 3 } });
    for (const m of members.slice(1)) await m.room.join(roomId);
    const b = await c.node(`${type}-b`);

    const { got, seen } = watchRoom(members);
    const clientMoves = members.map((m) => new Promise((r) => m.once('migrated', r)));
    // 8 x 50 broadcasts/s, 2800 pushes/s through Redis: a load a busy 2-core machine sustains.
    const streams = members.map((m) => stream(m, { burst: 1, pauseMs: 20 }));
    let step = 'streaming before the move';
    onTestFailed(() => console.log(`failed while waiting for: ${step}\n${describeProgress(members, uids, got)}`));
    await until(members, () => got.every((g) => g.size >= MEMBERS - 1));

    a.p.kill('SIGTERM');
    step = "the target process's roomMigrated";
    const report = (await b.p.next('roomMigrated')) as unknown as { newRoomId: string; oldRoomId: string };
    step = "every member's 'migrated'";
    await orFail(members, Promise.all(clientMoves));
    // Streaming on in the new room, then every broadcast must arrive.
    step = 'streaming in the new room';
    const more = members.map((_, i) => got[(i + 1) % MEMBERS].get(uids[i])?.length ?? 0);
    await until(members, () => members.every((_, i) => (got[(i + 1) % MEMBERS].get(uids[i])?.length ?? 0) > more[i] + 5));
    const sent = await Promise.all(streams.map((s) => s.stop()));
    step = `every broadcast (sent: ${sent.join(' ')})`;
    await expectEveryBroadcast(members, got, uids, sent);
    expectMovedOnce(seen, roomId, report, 'm0');
    for (const m of members) {
      expect(m.state).toBe('connected');
      expect(m.room.id).toBe(report.newRoomId);
      expect(m.stats().migrations).toBe(1);
    }
    expect(await members[5].room.info()).toEqual({ roomId: report.newRoomId, ownerId: 'm0', members: uids, props: { map: 'dunes', round: 3 } });
    expect(await roomsIn(redis?.url ?? '')).toEqual([
      { roomId: report.newRoomId, nodeId: `${type}-b`, ownerId: 'm0', maxMembers: MEMBERS, members: uids, props: { map: 'dunes', round: 3 } },
    ]);
    // The old process emptied and exited cleanly.
    expect((await a.p.exited).code).toBe(0);
  }, 90_000);
});

describe('room migration between node processes: stragglers', () => {
  it('a member that fails to arrive is removed when its handoff expires in the target process (memberLeave)', async () => {
    const c = await cluster('TCP', ['--handoff-ttl', '1500']);
    const a = await c.node('tcp-a');
    const owner = (await connect(c.entryUrl, 'TCP', 'owner')).client;
    const x = (await connect(c.entryUrl, 'TCP', 'x')).client;
    const { roomId } = await owner.room.create({ maxMembers: 4 });
    await x.room.join(roomId);
    // y gets its migration push and never claims at the target (a client that vanished).
    let pushed = (): void => undefined;
    const yPushed = new Promise<void>((r) => (pushed = r));
    const y = await TsTcpClient.connect(await fetchEndpoint(c.entryUrl, 'TCP', 'y'), {
      onPush: (ver, cmd) => {
        if (ver === VER_BUILTIN && cmd === BuiltinCmd.Reconn) pushed();
      },
    });
    raw.push(y);
    expect((await y.request(1, 2, Buffer.from(JSON.stringify({ roomId })))).status).toBe(1);
    const b = await c.node('tcp-b');
    const left = nextRoomEvent(owner, 'memberLeave');
    const ownerMoved = new Promise((r) => owner.once('migrated', r));
    a.p.kill('SIGTERM');
    await Promise.all([ownerMoved, yPushed]);
    expect(await left).toEqual(['y']);
    await b.p.next('handoff-expired', (e) => e.uid === 'y');
    expect(owner.room.isOwner).toBe(true);
    expect(await owner.room.info()).toMatchObject({ ownerId: 'owner', members: ['owner', 'x'] });
    expect((await roomsIn(redis?.url ?? ''))[0]).toMatchObject({ nodeId: 'tcp-b', members: ['owner', 'x'] });
  }, 60_000);
});

describe('room migration between node processes: the owner fails to arrive', () => {
  it('the node moves the room itself after the grace; the owner is removed at its handoff expiry and another member elected (ownerChange)', async () => {
    const c = await cluster('TCP', ['--handoff-ttl', '1500', '--room-grace', '200']);
    const a = await c.node('tcp-a');
    // The owner is a client that neither sends 1/7 nor claims after its migration push.
    const ownerRaw = await TsTcpClient.connect(await fetchEndpoint(c.entryUrl, 'TCP', 'owner'));
    raw.push(ownerRaw);
    const created = JSON.parse((await ownerRaw.request(1, 1, Buffer.from('{"maxMembers":3}'))).payload.toString()) as { roomId: string };
    const x = (await connect(c.entryUrl, 'TCP', 'x')).client;
    const w = (await connect(c.entryUrl, 'TCP', 'w')).client;
    await x.room.join(created.roomId);
    await w.room.join(created.roomId);
    await c.node('tcp-b');
    const ownerChange = [nextRoomEvent(x, 'ownerChange'), nextRoomEvent(w, 'ownerChange')];
    const left = nextRoomEvent(w, 'memberLeave');
    a.p.kill('SIGTERM');
    expect(await left).toEqual(['owner']);
    expect(await Promise.all(ownerChange)).toEqual([['x'], ['x']]);
    expect(x.room.isOwner).toBe(true);
    expect((await roomsIn(redis?.url ?? ''))[0]).toMatchObject({ nodeId: 'tcp-b', ownerId: 'x', members: ['x', 'w'] });
  }, 60_000);
});

describe('late requests after the migration push, across processes', () => {
  it('reach the old node after the push: forwarded to the target and served there first, before the new link, in order', async () => {
    const c = await cluster('TCP');
    const a = await c.node('tcp-a');
    const owner = (await connect(c.entryUrl, 'TCP', 'owner')).client;
    const { roomId } = await owner.room.create({ maxMembers: 2 });
    // z: a raw client that keeps sending on its old link after the push, as a client whose
    // requests crossed the push would, and ends that link only after sending on the new one.
    let pushed: (body: Buffer) => void = () => undefined;
    const migratePush = new Promise<Buffer>((r) => (pushed = r));
    const ep = await fetchEndpoint(c.entryUrl, 'TCP', 'z');
    const z = await TsTcpClient.connect(ep, {
      onPush: (ver, cmd, p) => {
        if (ver === VER_BUILTIN && cmd === BuiltinCmd.Reconn) pushed(p);
      },
    });
    raw.push(z);
    expect((await z.request(1, 2, Buffer.from(JSON.stringify({ roomId })))).status).toBe(1);
    const got: string[] = [];
    owner.room.on('message', (from, p) => got.push(`${from}:${p.toString()}`));
    await c.node('tcp-b');

    a.p.kill('SIGTERM');
    const m = decodeMigrateAnswer({ status: 1, payload: await migratePush });
    if (!m.ok) throw new Error('no migration push');
    const next = await TsTcpClient.connect({ ...ep, serverHost: m.host, serverPort: m.port }, { claim: m.ticket });
    raw.push(next);
    // Written to the old link first, so served first, though they take the longer way (old node,
    // Redis, target) and the new ones go straight to the target.
    for (let i = 1; i <= 5; i++) z.send(1, 4, Buffer.from(`late-${i}`));
    for (let i = 1; i <= 5; i++) next.send(1, 4, Buffer.from(`new-${i}`));
    await z.close();
    await until([owner], () => got.length === 10);
    expect(got).toEqual([...[1, 2, 3, 4, 5].map((i) => `z:late-${i}`), ...[1, 2, 3, 4, 5].map((i) => `z:new-${i}`)]);
  }, 60_000);
});
