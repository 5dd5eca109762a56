// Live migration of the native UdpClient against the reference cluster (PROTOCOL 7):
// sequenced reliable requests (2/4) and a push stream (2/6) run across the move;
// afterwards the user's data (2/2, 2/5) shows nothing was lost, duplicated or reordered.
import { afterEach, describe, expect, it } from 'vitest';
import { DiarkisError, getEndpoint, UdpClient, type MigrationInfo, type UdpClientOptions } from '../src/client';
import { MemoryStore, startCluster, type Cluster, type ClusterOptions } from '../src/server';
import type { NodeInfo, NodeType } from '../src/server/types';
import { UdpProxy } from './helpers/udp-proxy';
import { counter, delay, pushLog, sequencer, subscribe, u32, userData, waitMigrated } from './helpers/migration-streams';

const RETRY = { retryMinMs: 40, retryMaxMs: 400, maxRetries: 30 } as const;

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A store that advertises other ports for some nodes: a proxy in front of a node, or a dead port. */
class RemappedStore extends MemoryStore {
  readonly ports = new Map<number, number>();
  override async listNodes(type?: NodeType): Promise<NodeInfo[]> {
    return (await super.listNodes(type)).map((n) => this.remap(n));
  }
  override async pickNode(type: NodeType): Promise<NodeInfo | null> {
    const n = await super.pickNode(type);
    return n === null ? null : this.remap(n);
  }
  private remap(n: NodeInfo): NodeInfo {
    return { ...n, port: this.ports.get(n.port) ?? n.port };
  }
}

/** A port on 127.0.0.1 where nothing listens (bound, then closed). */
async function deadPort(): Promise<number> {
  const { createSocket } = await import('node:dgram');
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function cluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const c = await startCluster({
    udpNodes: 2,
    tcpNodes: 0,
    shutdownTimeoutMs: 120_000,
    udp: { ...RETRY, connectionTtlMs: 60_000 },
    ...opts,
  });
  cleanups.push(() => c.stop());
  return c;
}

function newClient(options: UdpClientOptions = {}): UdpClient {
  const client = new UdpClient({ requestTimeoutMs: 60_000, ...RETRY, synIntervalMs: 100, ...options });
  cleanups.push(() => client.destroy());
  return client;
}

async function connect(c: Cluster, uid: string, options: UdpClientOptions = {}): Promise<UdpClient> {
  const client = newClient(options);
  await client.connect(await getEndpoint(c.entryUrl, { type: 'UDP', uid }));
  return client;
}

function nodeIdOfPort(c: Cluster, port: number): string {
  const n = c.nodes.find((x) => x.id === c.nodeIdAt(port));
  if (n === undefined) throw new Error(`no node on port ${port}`);
  return n.id;
}

async function failure(p: Promise<unknown>): Promise<DiarkisError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DiarkisError);
  return e as DiarkisError;
}

/** Drives one client through a migration while it streams; checks what the node saw. */
async function streamAcrossMigration(c: Cluster, client: UdpClient, migrate: () => Promise<MigrationInfo>, nodeId: string): Promise<MigrationInfo> {
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

describe('UdpClient live migration', () => {
  it('auto mode: migrates on the offline notice while streaming; nothing lost, duplicated or reordered', async () => {
    const c = await cluster();
    const ep = await getEndpoint(c.entryUrl, { type: 'UDP', uid: 'auto-1' });
    const client = newClient();
    await client.connect(ep);
    const from = nodeIdOfPort(c, ep.serverPort);
    const offline: number[] = [];
    client.on('offline', () => offline.push(1));
    const info = await streamAcrossMigration(c, client, () => waitMigrated(client), from);
    expect(offline).toEqual([1]);
    expect(info.from).toBe(`${ep.serverHost}:${ep.serverPort}`);
    expect(info.to).not.toBe(info.from);
    expect(info.tookMs).toBeGreaterThanOrEqual(0);
    expect(c.nodes.find((n) => n.id === from)?.users).toBe(0);
  });

  it('manual mode: the application migrates after a delay; sendMigrate is idempotent; unreliable sends wait', async () => {
    const c = await cluster();
    const ep = await getEndpoint(c.entryUrl, { type: 'UDP', uid: 'manual-1' });
    const client = newClient({ migration: 'manual' });
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
        expect(() => client.send(2, 9, Buffer.from('x'))).toThrow(DiarkisError);
        return p1;
      },
      nodeIdOfPort(c, ep.serverPort),
    );
    expect(migrated).toEqual([info]);
  });

  for (const mode of ['auto', 'manual'] as const) {
    it(`200 clients on one node migrate at once (${mode})`, async () => {
      const c = await cluster();
      const [a, b] = c.nodes;
      await c.setNodeState(b.id, 'offline');  // every client lands on a
      const all = await Promise.all(Array.from({ length: 200 }, (_, i) => connect(c, `${mode}-many-${i}`, { migration: mode })));
      await c.setNodeState(b.id, 'online');
      const logs = all.map((cl) => pushLog(cl, 10));
      await Promise.all(all.map(async (cl) => expect((await cl.request(2, 6, subscribe(10, 10))).status).toBe(1)));
      const seqs = all.map((cl) => sequencer(cl, 40));
      const migrated = all.map((cl, i) =>
        mode === 'auto'
          ? waitMigrated(cl)
          : new Promise<MigrationInfo>((r) => cl.onOffline(() => void delay(i % 20).then(() => r(cl.sendMigrate())))),
      );
      await c.setNodeState(a.id, 'offline');
      const infos = await Promise.all(migrated);
      // Spread over the target's sockets (udp.sockets, 4 by default), all of them b's.
      for (const i of infos) expect(c.nodeIdAt(Number(i.to.split(':')[1]))).toBe(b.id);
      expect(new Set(infos.map((i) => i.to)).size).toBe(4);
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
      expect(c.nodes.find((n) => n.id === a.id)?.users).toBe(0);
    }, 90_000);
  }

  it('through 10 % loss each way in front of both nodes (20 clients)', async () => {
    const store = new RemappedStore();
    // One socket per node: the proxy fronts one port.
    const c = await cluster({ store, udp: { ...RETRY, connectionTtlMs: 60_000, sockets: 1 } });
    const [a, b] = c.nodes;
    const proxies: UdpProxy[] = [];
    let seed = 7;
    for (const n of [a, b]) {
      const p = await UdpProxy.start({ seed: seed++, target: { host: '127.0.0.1', port: n.port }, toServer: { lossPct: 10 }, toClient: { lossPct: 10 } });
      cleanups.push(() => p.close());
      proxies.push(p);
      store.ports.set(n.port, p.port);  // the endpoint and the migrate answer name the proxy
    }
    await c.setNodeState(b.id, 'offline');
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => connect(c, `lossy-${i}`)));
    await c.setNodeState(b.id, 'online');
    const logs = all.map((cl) => pushLog(cl, 20));
    await Promise.all(all.map(async (cl) => expect((await cl.request(2, 6, subscribe(20, 10))).status).toBe(1)));
    const seqs = all.map((cl) => sequencer(cl, 60));
    const migrated = all.map((cl) => waitMigrated(cl));
    await c.setNodeState(a.id, 'offline');
    for (const i of await Promise.all(migrated)) expect(i.to).toBe(`127.0.0.1:${proxies[1].port}`);
    const sent = await Promise.all(seqs.map((s) => s.stop()));
    await Promise.all(logs.map((l) => l.done));
    for (let i = 0; i < all.length; i++) {
      expect(logs[i].seen).toEqual(Array.from({ length: 20 }, (_, k) => k + 1));
      const d = await userData(all[i]);
      expect([d.lastSeq, d.gaps ?? 0, d.dups ?? 0]).toEqual([sent[i], 0, 0]);
      expect(all[i].state).toBe('connected');
    }
    for (const p of proxies) {
      expect(p.counters.toServer.dropped).toBeGreaterThan(0);
      expect(p.counters.toClient.dropped).toBeGreaterThan(0);
    }
    expect(c.nodes.find((n) => n.id === b.id)?.users).toBe(20);
  }, 90_000);

  it("no target (one node): sendMigrate rejects 'no-target', the held request goes to the old node, the session stays", async () => {
    const c = await cluster({ udpNodes: 1 });
    const client = await connect(c, 'lonely', { migration: 'manual' });
    const offline = new Promise<void>((r) => client.onOffline(r));
    expect((await client.request(2, 4, u32(1))).status).toBe(1);
    await c.setNodeState(c.nodes[0].id, 'offline');
    await offline;
    const p = client.sendMigrate();
    const held = client.request(2, 4, u32(2));
    const err = await failure(p);
    expect(err.code).toBe('no-target');
    expect((await held).payload.readUInt32BE(0)).toBe(2);
    expect(client.state).toBe('connected');
    expect((await client.request(2, 4, u32(3))).payload.readUInt32BE(0)).toBe(3);
    const d = await userData(client);
    expect([d.lastSeq, d.gaps ?? 0, d.dups ?? 0]).toEqual([3, 0, 0]);
  });

  it("target gone: claim retries within handoffTtlMs, then 'migration-failed' with the held requests handed back", async () => {
    const store = new RemappedStore();
    const c = await cluster({ store, udp: { ...RETRY, connectionTtlMs: 60_000, sockets: 1 } });
    const [a, b] = c.nodes;
    await c.setNodeState(b.id, 'offline');
    const client = await connect(c, 'orphan', { migration: 'manual', handoffTtlMs: 800, migrateRetryMinMs: 20, migrateRetryMaxMs: 100, connectTimeoutMs: 300 });
    await c.setNodeState(b.id, 'online');
    expect((await client.request(2, 4, u32(1))).status).toBe(1);
    const offline = new Promise<void>((r) => client.onOffline(r));
    await c.setNodeState(a.id, 'offline');
    await offline;
    // The target is advertised on a port where nothing listens: no SYN is ever answered.
    const dead = await deadPort();
    store.ports.set(b.port, dead);
    const reasons: string[] = [];
    client.on('disconnect', (code) => reasons.push(code));
    const mig = client.sendMigrate();
    client.rsend(2, 7, Buffer.from('one'));
    const req = client.request(2, 8, Buffer.from('two'), { timeoutMs: 100 });  // paused while held
    const err = await failure(mig);
    expect(err.code).toBe('migration-failed');
    expect(err.message).toContain(`127.0.0.1:${dead}`);
    const details = err.details as { unsent: Array<{ ver: number; cmd: number; payload: Buffer }> };
    expect(details.unsent.map((u) => [u.ver, u.cmd, u.payload.toString()])).toEqual([
      [2, 7, 'one'],
      [2, 8, 'two'],
    ]);
    expect((await failure(req)).code).toBe('migration-failed');
    expect(reasons).toEqual(['migration-failed']);
    expect(client.state).toBe('closed');
  });
});
