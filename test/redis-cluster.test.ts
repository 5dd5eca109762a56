/**
 * Multi-process clusters on a real redis-server: `diarkis-node entry` and `diarkis-node node`
 * processes, clients from this process. Faults: SIGTERM of a node (its clients migrate, nothing
 * lost), kill -9 of a node (its liveness expires, its clients lose their sessions and are told
 * so), Redis restarting (nodes register again), Redis unreachable at start.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinCmd, VER_BUILTIN } from '../src/protocol';
import { startCluster } from '../src/server';
import { RedisStore } from '../src/server/redis-store';
import { ensureBuilt, freePort, RedisServer, RoleProcess } from './helpers/redis-server';
import { EndpointInfo, fetchEndpoint, httpGet, TsTcpClient } from './helpers/ts-tcp-client';

let redis: RedisServer | null = null;
const procs: RoleProcess[] = [];
const clients: TsTcpClient[] = [];
const stores: RedisStore[] = [];

beforeAll(() => {
  ensureBuilt();
}, 120_000);

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const s of stores.splice(0)) await s.close();
  await Promise.all(procs.splice(0).map((p) => p.stop()));
  await redis?.stop();
  redis = null;
});

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

async function role(args: string[]): Promise<Record<string, unknown>> {
  const { p, ready } = await RoleProcess.start(args);
  procs.push(p);
  return ready;
}

async function startRoles(nodes: number, extra: string[] = []): Promise<{ entryUrl: string; nodes: { p: RoleProcess; port: number; ports: number[] }[] }> {
  if (redis === null) throw new Error('no redis');
  const ready = await role(['entry', '--port', '0', '--redis', redis.url]);
  const out: { p: RoleProcess; port: number; ports: number[] }[] = [];
  for (let i = 1; i <= nodes; i++) {
    const r = await role(['node', '--id', `tcp-${i}`, '--redis', redis.url, ...extra]);
    out.push({ p: procs[procs.length - 1], port: Number(r.port), ports: r.ports as number[] });
  }
  return { entryUrl: String(ready.url), nodes: out };
}

async function connect(ep: EndpointInfo, opts: Parameters<typeof TsTcpClient.connect>[1] = {}): Promise<TsTcpClient> {
  const c = await TsTcpClient.connect(ep, opts);
  clients.push(c);
  return c;
}

async function testStore(): Promise<RedisStore> {
  if (redis === null) throw new Error('no redis');
  const s = await RedisStore.connect({ url: redis.url, maxRetriesPerRequest: 1 });
  stores.push(s);
  return s;
}

/** Polls a condition that has no event to wait for (a TTL in Redis); the bound is a safety net. */
async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Player {
  uid: string;
  ep: EndpointInfo;
  client: TsTcpClient;
  stream: number[];
  streamDone: Promise<void>;
  offline: Promise<void>;
}

const STREAM = 100;

async function player(entryUrl: string, uid: string): Promise<Player> {
  const ep = await fetchEndpoint(entryUrl, 'TCP', uid);
  const stream: number[] = [];
  let done = (): void => undefined;
  let off = (): void => undefined;
  const streamDone = new Promise<void>((r) => (done = r));
  const offline = new Promise<void>((r) => (off = r));
  const onPush = (ver: number, cmd: number, p: Buffer): void => {
    if (ver === 2 && cmd === 6) {
      stream.push(p.readUInt32BE(0));
      if (stream.length === STREAM) done();
    } else if (ver === VER_BUILTIN && cmd === BuiltinCmd.KeepAlive) off();
  };
  const client = await connect(ep, { onPush });
  return { uid, ep, client, stream, streamDone, offline };
}

async function seqs(c: TsTcpClient, from: number, to: number): Promise<void> {
  const answers: Promise<unknown>[] = [];
  for (let s = from; s <= to; s++) answers.push(c.request(2, 4, u32(s)));
  await Promise.all(answers);
}

describe('multi-process cluster on Redis', () => {
  it('SIGTERM: the node goes OFFLINE, every client migrates to another process with nothing lost, the node exits', async () => {
    redis = await RedisServer.start();
    const { entryUrl, nodes } = await startRoles(3, ['--shutdown-timeout', '30000']);
    const players: Player[] = [];
    for (let i = 0; i < 9; i++) players.push(await player(entryUrl, `p${i}`));
    // Least loaded first: three clients per node.
    for (const n of nodes) expect(players.filter((p) => p.ep.serverPort === n.port)).toHaveLength(3);

    await Promise.all(
      players.map(async (p) => {
        for (let i = 0; i < 3; i++) await p.client.request(2, 2);
        await seqs(p.client, 1, 100);
        // 100 pushes, 10 ms apart, routed through Redis: the stream runs across the move.
        expect((await p.client.request(2, 6, Buffer.from([0, 0, 0, STREAM, 0, 0, 0, 10]))).status).toBe(1);
      }),
    );
    const victim = nodes[0];
    victim.p.kill('SIGTERM');
    const targets: number[] = [];
    await Promise.all(
      players.map(async (p) => {
        let c = p.client;
        if (p.ep.serverPort === victim.port) {
          await p.offline;
          // Requests sent before the migrate request are answered on the old connection first.
          const [, m] = await Promise.all([seqs(c, 101, 150), c.migrate()]);
          if (!m.ok) throw new Error(`migration refused: ${JSON.stringify(m)}`);
          expect(m.host).toBe('127.0.0.1');
          targets.push(m.port);
          c = await connect({ ...p.ep, serverPort: m.port }, { claim: m.ticket, onPush: p.client.onPush });
          await seqs(c, 151, 200);
        } else await seqs(c, 101, 200);
        for (let i = 0; i < 2; i++) await c.request(2, 2);
        await p.streamDone;
        const data = JSON.parse((await c.request(2, 5)).payload.toString('utf8')) as Record<string, number>;
        expect(data).toMatchObject({ counter: 5, lastSeq: 200 });
        expect(data.gaps ?? 0).toBe(0);
        expect(data.dups ?? 0).toBe(0);
        // One more answer after the last push proves nothing further was on its way.
        await c.request(2, 1, Buffer.from('x'));
        expect(p.stream).toEqual(Array.from({ length: STREAM }, (_, i) => i + 1));
      }),
    );
    expect(targets).toHaveLength(3);
    // A target in another process is named by one of its registered ports (main or extra listener).
    for (const t of targets) expect([nodes[1], nodes[2]].flatMap((n) => [n.port, ...n.ports])).toContain(t);
    expect(await victim.p.exited).toEqual({ code: 0, signal: null });
    expect((await victim.p.next('exit')).reason).toBe('empty');
    expect(victim.p.events.filter((e) => e.event === 'handoff')).toHaveLength(3);
    const store = await testStore();
    expect((await store.listNodes()).map((n) => n.id).sort()).toEqual(['tcp-2', 'tcp-3']);
  });

  it('kill -9: the registry entry expires, the entry stops handing the node out, its clients lose their sessions', async () => {
    redis = await RedisServer.start();
    const { entryUrl, nodes } = await startRoles(2, ['--node-ttl', '600']);
    const players: Player[] = [];
    for (let i = 0; i < 4; i++) players.push(await player(entryUrl, `k${i}`));
    const [victim, survivor] = nodes;
    victim.p.kill('SIGKILL');
    expect((await victim.p.exited).signal).toBe('SIGKILL');
    const lost = players.filter((p) => p.ep.serverPort === victim.port);
    expect(lost).toHaveLength(2);
    // The connection is gone without a Fin: the client sees a lost connection, not a clean end.
    for (const p of lost) expect(await p.client.closed).toBe('closed');

    const store = await testStore();
    await until('the dead node to leave the registry', async () => (await store.listNodes()).every((n) => n.id !== 'tcp-1'));
    for (let i = 0; i < 6; i++) expect((await fetchEndpoint(entryUrl, 'TCP', `new${i}`)).serverPort).toBe(survivor.port);
    // Its sessions died with it: nothing is routed to them, and another node does not resume them.
    expect(await store.routePush(lost[0].uid, 2, 7, u32(1))).toBe(false);
    await expect(TsTcpClient.connect({ ...lost[0].ep, serverPort: survivor.port })).rejects.toThrow('fin:refused');
    // A fresh endpoint request is how such a client comes back.
    const again = await player(entryUrl, lost[0].uid);
    expect(again.ep.serverPort).toBe(survivor.port);
    for (const p of players.filter((x) => x.ep.serverPort === survivor.port)) expect((await p.client.request(2, 2)).status).toBe(1);
  });

  it('Redis restarts: failures meanwhile are reported, the nodes register again and the cluster carries on', async () => {
    redis = await RedisServer.start({ appendonly: true });
    const { port, dir } = redis;
    const { entryUrl, nodes } = await startRoles(2, ['--node-ttl', '1000']);
    const a = await player(entryUrl, 'ra');
    const got: number[] = [];
    a.client.onPush = (ver, cmd, p) => {
      if (ver === 2 && cmd === 7) got.push(p.readUInt32BE(0));
    };
    expect((await a.client.request(2, 2)).payload.readUInt32BE(0)).toBe(1);
    const before = await testStore();
    expect(await before.routePush('ra', 2, 7, u32(1))).toBe(true);

    await redis.stop({ keepDir: true });
    // Meanwhile: the store's callers get errors, the entry answers 500 and logs why.
    await expect(before.routePush('ra', 2, 7, u32(2))).rejects.toThrow();
    const r = await httpGet(`${entryUrl}/endpoint/type/TCP/user/rb`);
    expect(r.status).toBe(500);
    const entryProc = procs[0];
    expect(entryProc.stderr).toContain('endpoint request failed');
    // Connected clients keep being served by their node.
    expect((await a.client.request(2, 2)).payload.readUInt32BE(0)).toBe(2);

    redis = await RedisServer.start({ appendonly: true, port, dir });
    await until('the entry to answer again', async () => (await httpGet(`${entryUrl}/endpoint/type/TCP/user/probe`)).status === 200);
    const after = await testStore();
    await until('both nodes registered', async () => (await after.listNodes('TCP')).length === 2);
    const b = await player(entryUrl, 'rb');
    expect((await b.client.request(2, 2)).payload.readUInt32BE(0)).toBe(1);
    // The session survived in the append-only file: pushes reach the user again.
    expect(await after.routePush('ra', 2, 7, u32(3))).toBe(true);
    expect((await a.client.request(2, 2)).payload.readUInt32BE(0)).toBe(3);
    await until('the push after the restart', () => Promise.resolve(got.includes(3)));
    expect(got).toEqual([1, 3]);
    for (const n of nodes) expect(n.p.proc.exitCode).toBe(null);
  });

  it('Redis unreachable at start: a clear error naming the URL, non-zero exit', async () => {
    const port = await freePort();
    for (const cmd of ['entry', 'node']) {
      const p = RoleProcess.spawn([cmd, '--redis', `redis://127.0.0.1:${port}`]);
      procs.push(p);
      expect((await p.exited).code).toBe(1);
      expect(p.stderr).toContain(`Redis unreachable at redis://127.0.0.1:${port}`);
    }
    await expect(startCluster({ store: `redis://:pw@127.0.0.1:${port}` })).rejects.toThrow(`Redis unreachable at redis://:***@127.0.0.1:${port}`);
  });

  it('a UDP node process registers as UDP and the entry hands it out', async () => {
    redis = await RedisServer.start();
    const entry = await role(['entry', '--port', '0', '--redis', redis.url]);
    const udp = await role(['node', '--type', 'UDP', '--id', 'udp-1', '--redis', redis.url]);
    const ep = await fetchEndpoint(String(entry.url), 'UDP', 'u1');
    expect(ep).toMatchObject({ serverType: 'UDP', serverHost: '127.0.0.1', serverPort: udp.port });
    const r = await httpGet(`${String(entry.url)}/endpoint/type/TCP/user/u2`);
    expect(r.status).toBe(503);
  });

  it('AUTH: a password in the URL; a wrong one is refused with the URL (password hidden)', async () => {
    redis = await RedisServer.start({ password: 's3cret' });
    const url = `redis://:s3cret@127.0.0.1:${redis.port}`;
    const c = await startCluster({ udpNodes: 0, tcpNodes: 1, store: url });
    try {
      const ep = await fetchEndpoint(c.entryUrl, 'TCP', 'auth');
      const client = await connect(ep);
      expect((await client.request(2, 2)).status).toBe(1);
    } finally {
      await c.stop();
    }
    await expect(startCluster({ store: `redis://:wrong@127.0.0.1:${redis.port}` })).rejects.toThrow(/Redis unreachable at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: WRONGPASS/);
  });
});
