// Live migration of the native TcpClient against the reference cluster (PROTOCOL 7):
// sequenced requests (2/4) and a push stream (2/6) run across the move; afterwards
// the user's data (2/2, 2/5) shows nothing was lost, duplicated or reordered.
import { afterEach, describe, expect, it } from 'vitest';
import { DiarkisError, getEndpoint, TcpClient, type MigrationInfo } from '../src/client';
import { startCluster, type Cluster } from '../src/server';
import { counter, delay, pushLog, sequencer, subscribe, u32, userData, waitMigrated } from './helpers/migration-streams';

let cluster: Cluster | undefined;
const clients: TcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  cluster = undefined;
});

async function connect(c: Cluster, uid: string, options: ConstructorParameters<typeof TcpClient>[0] = {}): Promise<TcpClient> {
  const client = new TcpClient({ requestTimeoutMs: 60_000, ...options });
  clients.push(client);
  await client.connect(await getEndpoint(c.entryUrl, { type: 'TCP', uid }));
  return client;
}

function nodeOf(c: Cluster, client: TcpClient, ep: { serverPort: number }): string {
  void client;
  const n = c.nodes.find((x) => x.port === ep.serverPort);
  if (n === undefined) throw new Error('unknown node');
  return n.id;
}

/** Drives one client through a migration while it streams; returns what it saw. */
async function streamAcrossMigration(
  c: Cluster,
  client: TcpClient,
  migrate: () => Promise<MigrationInfo>,
  nodeId: string,
): Promise<MigrationInfo> {
  const before = await counter(client);
  const pushes = pushLog(client, 60);
  expect((await client.request(2, 6, subscribe(60, 5))).status).toBe(1);
  const seq = sequencer(client);
  await delay(30);
  const reconnects: boolean[] = [];
  client.on('connect', (r) => reconnects.push(r));
  await c.setNodeState(nodeId, 'offline');
  const info = await migrate();
  await delay(30);  // keep streaming on the new node for a while
  const sent = await seq.stop();
  await pushes.done;
  expect(reconnects).toEqual([true]);
  expect(await counter(client)).toBe(before + 1);
  const data = await userData(client);
  expect(data.lastSeq).toBe(sent);
  expect(data.gaps ?? 0).toBe(0);
  expect(data.dups ?? 0).toBe(0);
  expect(pushes.seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  expect(client.state).toBe('connected');
  expect(client.stats().migrations).toBe(1);
  return info;
}

describe('TcpClient live migration', () => {
  it('auto mode: migrates on the offline notice while streaming; nothing lost, duplicated or reordered', async () => {
    const c = (cluster = await startCluster({ tcpNodes: 2, udpNodes: 0, shutdownTimeoutMs: 60_000 }));
    const ep = await getEndpoint(c.entryUrl, { type: 'TCP', uid: 'auto-1' });
    const client = new TcpClient({ requestTimeoutMs: 60_000 });
    clients.push(client);
    await client.connect(ep);
    const from = nodeOf(c, client, ep);
    const offline: number[] = [];
    client.on('offline', () => offline.push(1));
    const info = await streamAcrossMigration(c, client, () => waitMigrated(client), from);
    expect(offline).toEqual([1]);
    expect(info.from).toBe(`${ep.serverHost}:${ep.serverPort}`);
    expect(info.to).not.toBe(info.from);
    expect(info.tookMs).toBeGreaterThanOrEqual(0);
  });

  it('manual mode: the application migrates after a delay; sendMigrate is idempotent', async () => {
    const c = (cluster = await startCluster({ tcpNodes: 2, udpNodes: 0, shutdownTimeoutMs: 60_000 }));
    const ep = await getEndpoint(c.entryUrl, { type: 'TCP', uid: 'manual-1' });
    const client = new TcpClient({ migration: 'manual', requestTimeoutMs: 60_000 });
    clients.push(client);
    await client.connect(ep);
    const offline = new Promise<void>((r) => client.onOffline(r));
    const migrated: MigrationInfo[] = [];
    client.on('migrated', (i) => migrated.push(i));
    const info = await streamAcrossMigration(
      c,
      client,
      async () => {
        await offline;
        await delay(40);  // the app chooses its moment; requests keep flowing to the old node
        expect(client.state).toBe('connected');
        const p1 = client.sendMigrate();
        const p2 = client.sendMigrate();
        expect(p2).toBe(p1);
        expect(client.state).toBe('migrating');
        return p1;
      },
      nodeOf(c, client, ep),
    );
    expect(migrated).toEqual([info]);
  });

  for (const mode of ['auto', 'manual'] as const) {
    it(`200 clients on one node migrate at once (${mode})`, async () => {
      const c = (cluster = await startCluster({ tcpNodes: 2, udpNodes: 0, shutdownTimeoutMs: 60_000 }));
      const [a, b] = c.nodes;
      await c.setNodeState(b.id, 'offline');  // every client lands on a
      const all = await Promise.all(
        Array.from({ length: 200 }, (_, i) => connect(c, `${mode}-many-${i}`, { migration: mode })),
      );
      await c.setNodeState(b.id, 'online');
      const logs = all.map((cl) => pushLog(cl, 10));
      await Promise.all(all.map(async (cl) => expect((await cl.request(2, 6, subscribe(10, 10))).status).toBe(1)));
      const seqs = all.map((cl) => sequencer(cl, 40));
      const migrated = all.map((cl) =>
        mode === 'auto' ? waitMigrated(cl) : new Promise<MigrationInfo>((r) => cl.onOffline(() => r(cl.sendMigrate()))),
      );
      await c.setNodeState(a.id, 'offline');
      const infos = await Promise.all(migrated);
      // Node b's claim listeners, in turn (libuv accepts one connection per listener per loop turn).
      for (const i of infos) expect(c.nodeIdAt(Number(i.to.split(':')[1]))).toBe(b.id);
      expect(new Set(infos.map((i) => i.to)).size).toBe(32);
      const sent = await Promise.all(seqs.map((s) => s.stop()));
      await Promise.all(logs.map((l) => l.done));
      for (let i = 0; i < all.length; i++) {
        expect(logs[i].seen).toEqual(Array.from({ length: 10 }, (_, k) => k + 1));
        const d = await userData(all[i]);
        expect(d.lastSeq).toBe(sent[i]);
        expect(d.gaps ?? 0).toBe(0);
        expect(d.dups ?? 0).toBe(0);
      }
      expect(c.nodes.find((n) => n.id === b.id)?.users).toBe(200);
    }, 60_000);
  }

  it("no target (one node): sendMigrate rejects 'no-target' and the session stays", async () => {
    const c = (cluster = await startCluster({ tcpNodes: 1, udpNodes: 0, shutdownTimeoutMs: 60_000 }));
    const client = await connect(c, 'lonely', { migration: 'manual' });
    const offline = new Promise<void>((r) => client.onOffline(r));
    expect((await client.request(2, 4, u32(1))).status).toBe(1);
    await c.setNodeState(c.nodes[0].id, 'offline');
    await offline;
    const p = client.sendMigrate();
    const held = client.request(2, 4, u32(2));  // held during the attempt, then sent to this node
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DiarkisError);
    expect((err as DiarkisError).code).toBe('no-target');
    expect((await held).payload.readUInt32BE(0)).toBe(2);
    expect(client.state).toBe('connected');
    expect((await client.request(2, 4, u32(3))).payload.readUInt32BE(0)).toBe(3);
    const d = await userData(client);
    expect([d.lastSeq, d.gaps ?? 0, d.dups ?? 0]).toEqual([3, 0, 0]);
  });

  it("a client that never migrates gets 'server-shutdown' at the node's shutdown timeout", async () => {
    const c = (cluster = await startCluster({ tcpNodes: 2, udpNodes: 0, shutdownTimeoutMs: 300 }));
    const client = await connect(c, 'stubborn', { migration: 'manual' });
    const reason = new Promise<string>((r) => client.on('disconnect', (code) => r(code)));
    const ep = c.nodes.find((n) => n.users === 1);
    if (ep === undefined) throw new Error('the client is on no node');
    await c.setNodeState(ep.id, 'offline');
    expect(await reason).toBe('server-shutdown');
    expect(client.state).toBe('closed');
  });
});
