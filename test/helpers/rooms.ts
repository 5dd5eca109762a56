// Helpers of the room tests: clients connected to a chosen node, and waiting for room events.
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

/** Resolves once `cond()` holds, checked after each of the client's room events and pushes. */
export function until(clients: BaseClient[], cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!cond()) return;
      for (const c of clients) c.off('push', check);
      resolve();
    };
    for (const c of clients) c.on('push', check);
    check();
  });
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
 * 2 and 2), until stop() (resolves with the count).
 */
export function stream(client: BaseClient, pace: { burst: number; pauseMs: number } = { burst: 2, pauseMs: 2 }): { stop: () => Promise<number> } {
  let sent = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (let i = 0; i < pace.burst; i++) client.room.broadcast(Buffer.from(String(++sent)));
      await tick();
      await new Promise((r) => setTimeout(r, pace.pauseMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
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
