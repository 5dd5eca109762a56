// Issue 12: nodes as separate processes on Redis, 100 TCP + 100 UDP native clients (default
// migration 'auto') streaming sequenced requests; the loaded nodes get SIGTERM (OFFLINE) and
// every client moves to the nodes that joined meanwhile, with nothing lost or duplicated.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, TcpClient, UdpClient, type BaseClient, type MigrationInfo } from '../src/client';
import { ensureBuilt, RedisServer, RoleProcess } from './helpers/redis-server';
import { u32, userData } from './helpers/migration-streams';

const PER_TYPE = 100;
let redis: RedisServer | null = null;
const procs: RoleProcess[] = [];
const clients: BaseClient[] = [];

beforeAll(() => ensureBuilt(), 120_000);
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(procs.splice(0).map((p) => p.stop()));
  await redis?.stop();
  redis = null;
});

async function role(args: string[]): Promise<Record<string, unknown>> {
  const { p, ready } = await RoleProcess.start(args);
  procs.push(p);
  return ready;
}

describe('migration across processes on Redis at scale', () => {
  it('200 clients move from two SIGTERMed node processes to two new ones, nothing lost or duplicated', async () => {
    redis = await RedisServer.start();
    const url = redis.url;
    const entry = await role(['entry', '--port', '0', '--redis', url]);
    const node = (type: 'TCP' | 'UDP', id: string): Promise<Record<string, unknown>> =>
      role(['node', '--type', type, '--id', id, '--redis', url, '--shutdown-timeout', '120000', '--extra-ports', '7']);
    await Promise.all([node('TCP', 'tcp-old'), node('UDP', 'udp-old')]);
    const oldProcs = [...procs.slice(1)];

    const sent = new Map<BaseClient, number>();
    const moved: Promise<MigrationInfo>[] = [];
    const udpClients = new Set<BaseClient>();
    for (let i = 0; i < 2 * PER_TYPE; i++) {
      const type = i % 2 === 0 ? 'TCP' : 'UDP';
      const c: BaseClient = type === 'TCP' ? new TcpClient({ requestTimeoutMs: 60_000 }) : new UdpClient({ requestTimeoutMs: 60_000 });
      clients.push(c);
      await c.connect(await getEndpoint(String(entry.url), { type, uid: `scale-${i}` }));
      moved.push(new Promise((r) => c.once('migrated', r)));
      if (type === 'UDP') udpClients.add(c);
      sent.set(c, 0);
    }
    // Sequenced requests in flight while the nodes go OFFLINE; every answer must come.
    const stream = (c: BaseClient, n: number): Promise<void>[] =>
      Array.from({ length: n }, () => {
        const seq = (sent.get(c) as number) + 1;
        sent.set(c, seq);
        return c.request(2, 4, u32(seq)).then((r) => {
          expect(r.status).toBe(1);
          expect(r.payload.readUInt32BE(0)).toBe(seq);
        });
      });
    const before = clients.flatMap((c) => stream(c, 3));
    const [tcpNew, udpNew] = await Promise.all([node('TCP', 'tcp-new'), node('UDP', 'udp-new')]);
    for (const p of oldProcs) p.kill('SIGTERM');
    const during = clients.flatMap((c) => stream(c, 2));
    const infos = await Promise.all(moved);
    // Migrate answers name the new nodes' registered ports in turn (--extra-ports 7: 8 ports each).
    const portsOf = (r: Record<string, unknown>): number[] => [Number(r.port), ...(r.ports as number[])];
    expect(portsOf(udpNew).length).toBe(8);
    const toPorts = (udp: boolean): Set<number> => new Set(infos.filter((_, i) => udpClients.has(clients[i] as BaseClient) === udp).map((m) => Number(m.to.split(':').pop())));
    for (const [udp, ready] of [[true, udpNew], [false, tcpNew]] as const) {
      const seen = toPorts(udp);
      expect([...seen].every((p) => portsOf(ready).includes(p))).toBe(true);
      expect(seen.size).toBe(8);
    }
    const after = clients.flatMap((c) => stream(c, 2));
    await Promise.all([...before, ...during, ...after]);

    for (const c of clients) {
      const d = await userData(c);
      expect({ lastSeq: d.lastSeq, gaps: d.gaps ?? 0, dups: d.dups ?? 0 }).toEqual({ lastSeq: sent.get(c), gaps: 0, dups: 0 });
    }
    // The old processes exit on their own once every session has left.
    const exits = await Promise.all(oldProcs.map((p) => p.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0]);
  }, 180_000);
});
