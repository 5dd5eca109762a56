// Helpers of the room tests: clients connected to a chosen node, and waiting for room events.
import { afterEach } from 'vitest';
import { getEndpoint, TcpClient, UdpClient, type BaseClient, type RoomEventMap } from '../../src/client';
import { startCluster, type Cluster, type ClusterOptions } from '../../src/server';

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
