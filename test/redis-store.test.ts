import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from '../src/server';
import { CommandRouter } from '../src/server/commands';
import { RedisStore, streamIdCompare, TRIM_EVERY_ENTRIES } from '../src/server/redis-store';
import type { HandoffRecord, NodeMessage, SessionRecord } from '../src/server/store';
import { TcpNode } from '../src/server/tcp-node';
import { freePort, RedisServer } from './helpers/redis-server';
import { fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});

let n = 0;
/** A fresh key prefix per test: tests share one redis-server. */
function store(opts: { nodeTtlMs?: number; prefix?: string } = {}): Promise<RedisStore> {
  return RedisStore.connect({ url: redis.url, prefix: opts.prefix ?? `t${++n}:`, nodeTtlMs: opts.nodeTtlMs, sweepIntervalMs: 50 });
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v, 0);
  return b;
}

function session(uid: string, sid: string, nodeId: string): SessionRecord {
  return { uid, sid, nodeId, key: '', iv: '', macKey: '', clientKey: '', data: { counter: 1 } };
}

function handoff(rec: SessionRecord, to: string, ticket: string): HandoffRecord {
  const { nodeId, ...rest } = rec;
  return { ...rest, ticket, from: nodeId, to, createdAt: 0 };
}

describe('RedisStore', () => {
  it('names the URL when Redis is unreachable', async () => {
    const port = await freePort();
    await expect(RedisStore.connect({ url: `redis://:secret@127.0.0.1:${port}`, connectTimeoutMs: 500 })).rejects.toThrow(
      `Redis unreachable at redis://:***@127.0.0.1:${port}`,
    );
  });

  it('registry: nodes from two processes, least loaded ONLINE pick, liveness expiry', async () => {
    const prefix = `t${++n}:`;
    const a = await store({ prefix, nodeTtlMs: 300 });
    const b = await store({ prefix, nodeTtlMs: 300 });
    try {
      await a.registerNode({ id: 'n1', type: 'TCP', host: '10.0.0.1', port: 1, state: 'online' });
      await b.registerNode({ id: 'n2', type: 'TCP', host: '10.0.0.2', port: 2, state: 'online' });
      await a.registerSession(session('u1', 'a'.repeat(32), 'n1'));
      expect((await b.pickNode('TCP'))?.id).toBe('n2');
      await b.setNodeState('n2', 'offline');
      expect((await a.pickNode('TCP'))?.id).toBe('n1');
      expect((await a.listNodes('TCP')).map((x) => [x.id, x.users, x.state]).sort()).toEqual([
        ['n1', 1, 'online'],
        ['n2', 0, 'offline'],
      ]);
      // b "dies": its liveness is no longer refreshed, so n2 leaves the registry.
      await b.close();
      for (let i = 0; i < 100 && (await a.listNodes()).length > 1; i++) await new Promise((r) => setTimeout(r, 20));
      expect((await a.listNodes()).map((x) => x.id)).toEqual(['n1']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('claims a handoff exactly once across processes (told to the old node), refuses a wrong ticket, reports expiry', async () => {
    const prefix = `t${++n}:`;
    const a = await store({ prefix });
    const b = await store({ prefix });
    try {
      await a.registerNode({ id: 'n1', type: 'TCP', host: 'h', port: 1, state: 'online' });
      await b.registerNode({ id: 'n2', type: 'TCP', host: 'h', port: 2, state: 'online' });
      const atOld: NodeMessage[] = [];
      a.setNodeMessageHandler('n1', (m) => atOld.push(m));
      await a.subscribePushes('n1', () => undefined);
      await b.subscribePushes('n2', () => undefined);
      const rec = session('u1', 'b'.repeat(32), 'n1');
      await a.registerSession(rec);
      await a.putHandoff({ ...handoff(rec, 'n2', 'f'.repeat(32)), reportClaim: true }, 60_000);
      expect(await b.claimHandoff(rec.sid, 'e'.repeat(32))).toEqual({ ok: false, reason: 'wrong-ticket' });
      const claims = await Promise.all([a, b, a, b].map((s) => s.claimHandoff(rec.sid, 'f'.repeat(32))));
      expect(claims.filter((c) => c.ok && !c.repeat)).toHaveLength(1);
      expect(claims.filter((c) => c.ok && c.repeat)).toHaveLength(3);
      // The first claim is told to the old node through its stream, once (it paces its offline
      // notices on it); a message sent after the claims comes after it, in stream order.
      await a.sendToNode('n1', { kind: 'forward-end', sid: 'end' });
      for (let i = 0; i < 200 && !atOld.some((m) => m.kind === 'forward-end'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(atOld).toEqual([{ kind: 'claimed', sid: rec.sid }, { kind: 'forward-end', sid: 'end' }]);
      expect((await a.getSession(rec.sid))?.nodeId).toBe('n2');
      expect((await a.listNodes()).find((x) => x.id === 'n2')?.users).toBe(1);

      // Unclaimed: reported once, in the target's process.
      const expiredA: string[] = [];
      const expiredB: string[] = [];
      await a.subscribeHandoffExpiry((r) => expiredA.push(r.sid));
      await b.subscribeHandoffExpiry((r) => expiredB.push(r.sid));
      const rec2 = session('u2', 'c'.repeat(32), 'n1');
      await a.registerSession(rec2);
      await a.putHandoff(handoff(rec2, 'n2', '1'.repeat(32)), 100);
      for (let i = 0; i < 200 && expiredB.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(expiredB).toEqual([rec2.sid]);
      expect(expiredA).toEqual([]);
      expect(await b.claimHandoff(rec2.sid, '1'.repeat(32))).toEqual({ ok: false, reason: 'unknown' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('compares stream ids numerically, by ms then sequence', () => {
    const ids = ['0-0', '0-1', '9-0', '10-0', '10-2', '10-10', '1732900000000-0', '1732900000000-9', '1732900000001-0', '1732900000001'];
    for (const a of ids) {
      for (const b of ids) {
        const [am, as = 0n] = a.split('-').map(BigInt);
        const [bm, bs = 0n] = b.split('-').map(BigInt);
        const want = am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1;
        expect(streamIdCompare(a, b), `${a} vs ${b}`).toBe(want);
      }
    }
  });

  it("trims a node's stream to what it read every TRIM_EVERY_ENTRIES entries and when it goes quiet, not after every read", async () => {
    const prefix = `t${++n}:`;
    const a = await store({ prefix });
    const raw = new Redis(redis.url);
    try {
      await a.registerNode({ id: 'n1', type: 'TCP', host: 'h', port: 1, state: 'online' });
      let got = 0;
      let onGot = (): void => undefined;
      await a.subscribePushes('n1', () => {
        got++;
        onGot();
      });
      const delivered = (k: number): Promise<void> => new Promise<void>((r) => (onGot = () => void (got >= k && r())));
      await a.registerSession(session('u1', 'e'.repeat(32), 'n1'));
      // One push per read: each read used to be followed by an XTRIM.
      for (let i = 1; i <= 5; i++) {
        const d = delivered(i);
        await a.routePush('u1', 2, 7, u32(i));
        await d;
      }
      const key = `${prefix}pq:n1`;
      expect(await raw.xlen(key)).toBe(6); // the adoption and 5 pushes, read and kept
      const d = delivered(5 + TRIM_EVERY_ENTRIES);
      await Promise.all(Array.from({ length: TRIM_EVERY_ENTRIES }, (_, i) => a.routePush('u1', 2, 7, u32(6 + i))));
      await d;
      // Trimmed to the last entry read once 256 were read, then (quiet: the blocking read times out) again.
      const deadline = Date.now() + 5000;
      while ((await raw.xlen(key)) > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await raw.xlen(key)).toBe(1);
    } finally {
      raw.disconnect();
      await a.close();
    }
  });

  it('routes pushes in order to the node holding the user, and across a handoff', async () => {
    const prefix = `t${++n}:`;
    const a = await store({ prefix });
    const b = await store({ prefix });
    try {
      await a.registerNode({ id: 'n1', type: 'TCP', host: 'h', port: 1, state: 'online' });
      await b.registerNode({ id: 'n2', type: 'TCP', host: 'h', port: 2, state: 'online' });
      const log: string[] = [];
      const adopted: string[] = [];
      b.setSessionAdopter('n2', (r, handed) => adopted.push(`${r.sid.slice(0, 2)}:${r.nodeId}:${handed}`));
      await a.subscribePushes('n1', (_sid, _v, _c, p) => log.push(`n1:${p.readUInt32BE(0)}`));
      await b.subscribePushes('n2', (_sid, _v, _c, p) => log.push(`n2:${p.readUInt32BE(0)}`));
      expect(await a.routePush('nobody', 2, 7, u32(0))).toBe(false);
      const rec = session('u1', 'd'.repeat(32), 'n1');
      await a.registerSession(rec);
      const sent: Promise<boolean>[] = [];
      for (let i = 1; i <= 50; i++) sent.push(b.routePush('u1', 2, 7, u32(i)));
      await Promise.all(sent);
      // Resolves only once n1 has delivered 1..50.
      await a.putHandoff(handoff(rec, 'n2', '2'.repeat(32)), 60_000);
      expect(log).toEqual(Array.from({ length: 50 }, (_, i) => `n1:${i + 1}`));
      for (let i = 51; i <= 60; i++) await a.routePush('u1', 2, 7, u32(i));
      for (let i = 0; i < 200 && log.length < 60; i++) await new Promise((r) => setTimeout(r, 10));
      expect(log.slice(50)).toEqual(Array.from({ length: 10 }, (_, i) => `n2:${i + 51}`));
      expect(adopted).toEqual([`dd:n2:true`]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a handoff puts nothing on the old node's stream and waits for its unread pushes only", async () => {
    const prefix = `t${++n}:`;
    const a = await store({ prefix });
    const b = await store({ prefix });
    const raw = new Redis(redis.url);
    try {
      await a.registerNode({ id: 'n1', type: 'TCP', host: 'h', port: 1, state: 'online' });
      await b.registerNode({ id: 'n2', type: 'TCP', host: 'h', port: 2, state: 'online' });
      const log: number[] = [];
      await a.subscribePushes('n1', (_sid, _v, _c, p) => log.push(p.readUInt32BE(0)));
      await b.subscribePushes('n2', () => undefined);
      const rec = session('u1', 'e'.repeat(32), 'n1');
      await a.registerSession(rec);
      // The registration's adoption entry is the old stream's only one until now.
      const before = await raw.xlen(`${prefix}pq:n1`);
      await a.putHandoff(handoff(rec, 'n2', '3'.repeat(32)), 60_000);
      expect(await raw.xlen(`${prefix}pq:n1`)).toBe(before);
      // Moved back with pushes queued meanwhile: the second handoff resolves only once n1 has them.
      const back = { ...rec, nodeId: 'n1' };
      await b.putHandoff(handoff({ ...rec, nodeId: 'n2' }, 'n1', '4'.repeat(32)), 60_000);
      await Promise.all([1, 2, 3].map((i) => b.routePush('u1', 2, 7, u32(i))));
      await a.putHandoff(handoff(back, 'n2', '5'.repeat(32)), 60_000);
      expect(log).toEqual([1, 2, 3]);
      // Two handoffs waiting for the same unread entry both go on once it is read.
      const r2 = session('u2', 'f'.repeat(32), 'n1');
      const r3 = session('u3', '9'.repeat(32), 'n1');
      await a.registerSession(r2);
      await a.registerSession(r3);
      // On one connection, so Redis runs the pushes before both handoffs; n1's reader is still behind.
      const pushed = Array.from({ length: 2000 }, (_, i) => a.routePush('u2', 2, 7, u32(100 + i)));
      const moves = [a.putHandoff(handoff(r2, 'n2', '6'.repeat(32)), 60_000), a.putHandoff(handoff(r3, 'n2', '7'.repeat(32)), 60_000)];
      await Promise.all([...pushed, ...moves]);
      expect(log.length).toBe(2003);
      expect(await raw.xrange(`${prefix}pq:n1`, '-', '+')).not.toContainEqual(expect.arrayContaining([expect.arrayContaining(['k', 'm'])]));
    } finally {
      raw.disconnect();
      await a.close();
      await b.close();
    }
  });

  it("startCluster({ store: 'redis://...' }): migration keeps counters and pushes exactly once, in order", async () => {
    const c = await startCluster({ udpNodes: 0, tcpNodes: 2, store: redis.url, lingerMs: 200 });
    const clients: TsTcpClient[] = [];
    try {
      const uid = `alice-${++n}`;
      const ep = await fetchEndpoint(c.entryUrl, 'TCP', uid);
      const direct: number[] = [];
      const onPush = (ver: number, cmd: number, p: Buffer): void => {
        if (ver === 2 && cmd === 7) direct.push(p.readUInt32BE(0));
      };
      const old = await TsTcpClient.connect(ep, { onPush });
      clients.push(old);
      let seq = 0;
      const answers: Promise<unknown>[] = [];
      for (let i = 0; i < 3; i++) answers.push(old.request(2, 2));
      for (; seq < 200; ) answers.push(old.request(2, 4, u32(++seq)));
      for (let k = 1; k <= 3; k++) expect(await c.push(uid, 2, 7, u32(k))).toBe(true);
      const m = await old.migrate();
      await Promise.all(answers);
      if (!m.ok) throw new Error('migration refused');
      for (let k = 4; k <= 6; k++) expect(await c.push(uid, 2, 7, u32(k))).toBe(true);
      const next = await TsTcpClient.connect({ ...ep, serverPort: m.port }, { claim: m.ticket, onPush });
      clients.push(next);
      expect((await next.request(2, 2)).payload.readUInt32BE(0)).toBe(4);
      const data = JSON.parse((await next.request(2, 5)).payload.toString('utf8')) as Record<string, number>;
      expect(data).toMatchObject({ counter: 4, lastSeq: 200 });
      expect(direct).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      for (const x of clients) x.destroy();
      await c.stop();
    }
  });
});

async function eventually(what: string, cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Issue 11: a claim that reaches the target before the target has read the handoff from its
// stream finds the session held for the claim; records of a node that died without unregistering
// (kill -9) are reaped once its liveness has expired for a grace.
describe('RedisStore: handoff race and dead nodes', () => {
  it('a claim overtaking the handoff on the target stream finds the session held for its claim', async () => {
    const prefix = `race${++n}:`;
    const a = await store({ prefix });
    const b = await store({ prefix });
    const target = new TcpNode({
      id: 'n2', host: '127.0.0.1', store: b, router: new CommandRouter(), emit: () => undefined,
      maxPayload: 1 << 20, exposeDebugCommands: false,
    });
    try {
      await a.registerNode({ id: 'n1', type: 'TCP', host: 'h', port: 1, state: 'online' });
      await b.registerNode({ id: 'n2', type: 'TCP', host: 'h', port: 2, state: 'online' });
      const rec = session('u1', 'a'.repeat(32), 'n1');
      await a.registerSession(rec);
      // n2's stream reader never runs here: the handoff's adoption entry stays unread, as when the
      // client's claim arrives before the target process has read its stream.
      await a.putHandoff(handoff(rec, 'n2', 'f'.repeat(32)), 60_000);
      expect(await b.lookupSession(rec.sid)).toMatchObject({ rec: { nodeId: 'n2' }, handoffPending: true });
      const s = await target.findSession(rec.sid);
      expect(s?.awaitingClaim).toBe(true); // only the claim binds it (PROTOCOL 7.6)
      expect(s?.pendingTimer).toBeNull(); // the handoff TTL governs it, not the endpoint's
      expect(await b.claimHandoff(rec.sid, 'f'.repeat(32))).toMatchObject({ ok: true, repeat: false });
      expect((await b.lookupSession(rec.sid))?.handoffPending).toBe(false);
      // A session registered the ordinary way is adopted as one.
      const plain = session('u2', 'b'.repeat(32), 'n2');
      await a.registerSession(plain);
      expect((await target.findSession(plain.sid))?.awaitingClaim).toBe(false);
      expect(await b.lookupSession('c'.repeat(32))).toBeNull();
    } finally {
      await target.stop();
      await a.close();
      await b.close();
    }
  });

  it('kill -9: the dead node is reaped with its sessions, users and pending handoffs; others stay', async () => {
    const prefix = `reap${++n}:`;
    const dead = await store({ prefix, nodeTtlMs: 300 });
    const live = await store({ prefix, nodeTtlMs: 300 });
    const raw = new Redis(redis.url);
    try {
      await dead.registerNode({ id: 'd1', type: 'TCP', host: 'h', port: 1, state: 'online' });
      await live.registerNode({ id: 'l1', type: 'TCP', host: 'h', port: 2, state: 'online' });
      await live.subscribePushes('l1', () => undefined); // starts the sweeper that reaps
      const s1 = session('u1', '1'.repeat(32), 'd1');
      const s2 = session('u2', '2'.repeat(32), 'd1');
      const s3 = session('u3', '3'.repeat(32), 'l1');
      const s4 = session('u4', '4'.repeat(32), 'l1'); // handed to d1, never claimed
      const s5 = session('u5', '5'.repeat(32), 'd1'); // moved away from d1 before it died
      for (const s of [s1, s2, s3, s4, s5]) await live.registerSession(s);
      await live.putHandoff(handoff(s4, 'd1', 'a'.repeat(32)), 60_000);
      await live.moveSession(s5.sid, 'l1');
      // u1 reconnected elsewhere meanwhile: its newer session must survive d1's reaping.
      const s1b = session('u1', '6'.repeat(32), 'l1');
      await live.registerSession(s1b);
      // "kill -9": the process stops refreshing its liveness without unregistering anything.
      await dead.close();
      await eventually('d1 reaped', async () => (await raw.exists(`${prefix}node:d1`)) === 0);
      for (const s of [s1, s2, s4]) expect(await live.getSession(s.sid)).toBeNull();
      expect(await raw.exists(`${prefix}user:u2`, `${prefix}user:u4`, `${prefix}hoff:${s4.sid}`)).toBe(0);
      expect(await raw.exists(`${prefix}nsess:d1`, `${prefix}pq:d1`, `${prefix}hexp:d1`)).toBe(0);
      expect((await live.sessionOfUser('u1'))?.sid).toBe(s1b.sid);
      expect((await live.getSession(s3.sid))?.nodeId).toBe('l1');
      expect((await live.getSession(s5.sid))?.nodeId).toBe('l1');
      expect((await raw.smembers(`${prefix}nsess:l1`)).sort()).toEqual([s3.sid, s5.sid, s1b.sid].sort());
      expect((await live.listNodes()).map((x) => x.id)).toEqual(['l1']);
      // A node only late (its liveness lapsed, e.g. Redis restarted) beats again within the grace
      // and keeps its records.
      await raw.del(`${prefix}alive:l1`);
      expect(await live.reapDead()).toBe(0);
      await eventually('l1 beats again', async () => (await raw.exists(`${prefix}alive:l1`)) === 1);
      expect(await raw.zscore(`${prefix}dead`, 'l1')).toBeNull();
      expect(await live.reapDead()).toBe(0);
      expect(await live.getSession(s3.sid)).not.toBeNull();
    } finally {
      raw.disconnect();
      await dead.close();
      await live.close();
    }
  });

  it('a graceful unregister removes the sessions still registered on the node', async () => {
    const prefix = `unreg${++n}:`;
    const a = await store({ prefix });
    try {
      await a.registerNode({ id: 'n1', type: 'TCP', host: 'h', port: 1, state: 'online' });
      await a.registerSession(session('u1', '7'.repeat(32), 'n1'));
      await a.unregisterNode('n1');
      expect(await a.getSession('7'.repeat(32))).toBeNull();
      expect(await a.sessionOfUser('u1')).toBeNull();
    } finally {
      await a.close();
    }
  });
});
