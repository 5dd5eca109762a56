// Helpers of the room tests: clients connected to a chosen node, and waiting for room events.
import { EventEmitter } from 'node:events';
import { afterEach, expect } from 'vitest';
import { getEndpoint, TcpClient, UdpClient, type BaseClient, type RoomEventMap, type RoomMigrationInfo } from '../../src/client';
import { startCluster, type Cluster, type ClusterOptions } from '../../src/server';
import { tick } from './migration-streams';

export type Transport = 'TCP' | 'UDP';

/** Connects `uid` to node `nodeId`: every other ONLINE node of that type is TAKEN meanwhile. */
export async function connectOn(
  c: Cluster,
  nodeId: string,
  uid: string,
  opts: { migration?: 'auto' | 'manual'; handoffTtlMs?: number } = {},
): Promise<BaseClient> {
  const type = c.nodes.find((n) => n.id === nodeId)?.type;
  if (type === undefined) throw new Error(`unknown node ${nodeId}`);
  const others = c.nodes.filter((n) => n.type === type && n.id !== nodeId && n.state === 'online');
  for (const n of others) await c.setNodeState(n.id, 'taken');
  try {
    const ep = await getEndpoint(c.entryUrl, { type, uid });
    const options = { requestTimeoutMs: 60_000, ...opts };
    const client: BaseClient = type === 'TCP' ? new TcpClient(options) : new UdpClient(options);
    await client.connect(ep);
    return client;
  } finally {
    for (const n of others) await c.setNodeState(n.id, 'online');
  }
}

/** Resolves with the arguments of the next `event` of the client's room. */
export function nextRoomEvent<K extends keyof RoomEventMap>(client: BaseClient, event: K): Promise<RoomEventMap[K]> {
  return new Promise((resolve) => {
    const room = client.room;
    const on = (...args: RoomEventMap[K]): void => {
      room.off(event, on as never);
      resolve(args);
    };
    room.on(event, on as never);
  });
}

/** Why a client of a test can no longer take part: set by its disconnect, its room's 'left', a failed stream. */
const failures = new WeakMap<BaseClient, Error>();
const failed = new EventEmitter();

function label(c: BaseClient): string {
  return `client ${c.sid?.slice(0, 8) ?? '(no session)'}`;
}

function fail(c: BaseClient, err: Error): void {
  if (failures.has(c)) return;
  failures.set(c, err);
  failed.emit('failed', c, err);
}

/**
 * Records, from now on, why `c` drops out (disconnect, room 'left'), so that until() and the streams
 * fail at once with the reason instead of waiting for the test's timeout. Idempotent.
 */
export function watchFailures(c: BaseClient): void {
  if (watched.has(c)) return;
  watched.add(c);
  c.on('disconnect', (code, message) => fail(c, new Error(`${label(c)} disconnected (${code}): ${message}`)));
  c.room.on('left', (reason, roomId) => fail(c, new Error(`${label(c)} left room ${roomId} (${reason})`)));
}
const watched = new WeakSet<BaseClient>();

/**
 * Resolves once `cond()` holds, checked after each of the client's room events and pushes. Rejects
 * at once when one of the clients disconnects, leaves its room unasked or its stream() fails.
 */
export function until(clients: BaseClient[], cond: () => boolean): Promise<void> {
  for (const c of clients) watchFailures(c);
  return new Promise((resolve, reject) => {
    const settle = (err: Error | undefined): void => {
      for (const c of clients) c.off('push', check);
      failed.off('failed', onFailed);
      if (err === undefined) resolve();
      else reject(err);
    };
    const check = (): void => {
      if (cond()) settle(undefined);
    };
    const onFailed = (c: BaseClient, err: Error): void => {
      if (clients.includes(c)) settle(err);
    };
    const already = clients.find((c) => failures.has(c));
    if (already !== undefined) return settle(failures.get(already));
    for (const c of clients) c.on('push', check);
    failed.on('failed', onFailed);
    check();
  });
}

/** `p`, or the first failure of one of the clients (as until()). */
export function orFail<T>(clients: BaseClient[], p: Promise<T>): Promise<T> {
  let cancel = (): void => undefined;
  const failure = new Promise<never>((_, reject) => {
    let done = false;
    cancel = () => void (done = true);
    until(clients, () => done).catch(reject);
  });
  return Promise.race([p, failure]).finally(() => cancel());
}

/** For a failed test's output: per member its state, and per sender how many and which last. */
export function describeProgress(members: BaseClient[], uids: string[], got: Map<string, number[]>[]): string {
  return members
    .map((m, i) => {
      const from = uids.map((u) => {
        const l = got[i].get(u);
        return l === undefined ? `${u}:-` : `${u}:${l.length}/last ${l[l.length - 1]}`;
      });
      const why = failures.get(m)?.message ?? '';
      return `${uids[i]} ${m.state} migrations=${m.stats().migrations} room=${m.room.id ?? '-'} got ${from.join(' ')} ${why}`;
    })
    .join('\n');
}

/** One cluster and its clients per test, destroyed and stopped after it. */
export function roomTestBed(): { start: (opts: ClusterOptions) => Promise<Cluster>; keep: (...c: BaseClient[]) => void } {
  let cluster: Cluster | undefined;
  const clients: BaseClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await cluster?.stop();
    cluster = undefined;
  });
  return {
    start: async (opts) => (cluster = await startCluster(opts)),
    keep: (...c) => void clients.push(...c),
  };
}

/**
 * The member broadcasts "n" numbered from 1, `burst` per loop turn then a `pauseMs` pause (default
 * 2 and 2), until stop() (resolves with the count). A broadcast that throws, or the client's
 * disconnect, ends the stream: until() on that client rejects at once and stop() with the reason.
 */
export function stream(client: BaseClient, pace: { burst: number; pauseMs: number } = { burst: 2, pauseMs: 2 }): { stop: () => Promise<number> } {
  watchFailures(client);
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running && !failures.has(client)) {
      try {
        for (let i = 0; i < pace.burst; i++) {
          client.room.broadcast(Buffer.from(String(sent + 1)));
          sent++;
        }
      } catch (err) {
        fail(client, new Error(`${label(client)}: broadcast ${sent + 1} failed: ${err instanceof Error ? err.message : String(err)}`));
        break;
      }
      await tick();
      await new Promise((r) => setTimeout(r, pace.pauseMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      const err = failures.get(client);
      if (err !== undefined) throw err;
      return sent;
    },
  };
}

/** Per receiver: what each sender's broadcasts were ("n" numbers), as they came. */
export function recordBroadcasts(members: BaseClient[]): Map<string, number[]>[] {
  const got = members.map(() => new Map<string, number[]>());
  members.forEach((m, i) => {
    m.room.on('message', (from, p) => {
      const list = got[i].get(from) ?? [];
      list.push(Number(p.toString()));
      got[i].set(from, list);
    });
  });
  return got;
}

/** What the members see from now on: broadcasts per sender, join broadcasts, room migrations. */
export function watchRoom(members: BaseClient[]): { got: Map<string, number[]>[]; seen: { joins: number; moved: RoomMigrationInfo[][] } } {
  const got = recordBroadcasts(members);
  const seen = { joins: 0, moved: members.map((): RoomMigrationInfo[] => []) };
  members.forEach((m, i) => {
    m.room.on('memberJoin', () => seen.joins++);
    m.room.on('migrated', (info) => seen.moved[i].push(info));
  });
  return { got, seen };
}

/** Waits until every member got every other's `sent` broadcasts, then checks: once each, in order. */
export async function expectEveryBroadcast(members: BaseClient[], got: Map<string, number[]>[], uids: string[], sent: number[]): Promise<void> {
  await until(members, () => members.every((_, i) => uids.every((from, j) => i === j || (got[i].get(from)?.length ?? 0) >= sent[j])));
  members.forEach((_, i) => {
    uids.forEach((from, j) => {
      if (i !== j) expect(got[i].get(from), `${uids[i]} from ${from}`).toEqual(Array.from({ length: sent[j] }, (_, k) => k + 1));
    });
  });
}

/** No join broadcast seen; every member saw the room move once, from `oldRoomId` to the reported id. */
export function expectMovedOnce(seen: { joins: number; moved: RoomMigrationInfo[][] }, oldRoomId: string, report: { newRoomId: string; oldRoomId: string }, ownerId: string): void {
  expect(seen.joins).toBe(0);
  expect(report.oldRoomId).toBe(oldRoomId);
  expect(report.newRoomId).not.toBe(oldRoomId);
  for (const list of seen.moved) expect(list).toEqual([{ oldRoomId, newRoomId: report.newRoomId, ownerId }]);
}
