/**
 * UDP migration between processes on a real redis-server: one `diarkis-node entry` and two
 * `diarkis-node node --type UDP` processes. SIGTERM of the node holding a streaming client: the
 * client is handed to the other process (held pushes delivered there through its per-node stream),
 * claims there, and its 2/4 sequence and 2/6 stream continue with nothing lost or doubled.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { BuiltinCmd, VER_BUILTIN } from '../src/protocol';
import { ensureBuilt, freePort, RedisServer, RoleProcess } from './helpers/redis-server';
import { fetchEndpoint } from './helpers/ts-tcp-client';
import { TsUdpClient } from './helpers/ts-udp-client';

beforeAll(() => {
  ensureBuilt();
}, 120_000);

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

const STREAM = 100;

describe('UDP nodes on Redis (separate processes)', () => {
  it('--port binds the given port; SIGTERM: the streaming client migrates to the other process, nothing lost', async () => {
    const redis = await RedisServer.start();
    const procs: RoleProcess[] = [];
    const clients: TsUdpClient[] = [];
    const role = async (args: string[]): Promise<{ p: RoleProcess; ready: Record<string, unknown> }> => {
      const r = await RoleProcess.start(args);
      procs.push(r.p);
      return r;
    };
    try {
      const entry = await role(['entry', '--port', '0', '--redis', redis.url]);
      // A port picked free beforehand (TCP-free is a good hint; the node binds it for UDP).
      const fixed = await freePort();
      const n1 = await role(['node', '--type', 'UDP', '--id', 'udp-1', '--port', String(fixed), '--redis', redis.url, '--shutdown-timeout', '20000']);
      expect(n1.ready.port).toBe(fixed);
      const n2 = await role(['node', '--type', 'UDP', '--id', 'udp-2', '--redis', redis.url, '--shutdown-timeout', '20000', '--extra-ports', '3']);
      // No extra ports by default; --extra-ports 3: four sockets, the entry and migrate answers name any.
      expect(n1.ready.ports).toEqual([]);
      expect((n2.ready.ports as number[]).length).toBe(3);
      const ports = new Map<number, RoleProcess>([
        [Number(n1.ready.port), n1.p],
        ...[Number(n2.ready.port), ...(n2.ready.ports as number[])].map((p): [number, RoleProcess] => [p, n2.p]),
      ]);

      const ep = await fetchEndpoint(String(entry.ready.url), 'UDP', 'alice');
      const victim = ports.get(ep.serverPort);
      if (victim === undefined) throw new Error(`endpoint port ${ep.serverPort} is no node of this test`);

      const stream: number[] = [];
      let streamDone = (): void => undefined;
      const streamComplete = new Promise<void>((r) => (streamDone = r));
      let offline = (): void => undefined;
      const offlineSeen = new Promise<void>((r) => (offline = r));
      const onPush = (ver: number, cmd: number, p: Buffer): void => {
        if (ver === 2 && cmd === 6) {
          stream.push(p.readUInt32BE(0));
          if (stream.length === STREAM) streamDone();
        } else if (ver === VER_BUILTIN && cmd === BuiltinCmd.KeepAlive) offline();
      };
      const old = await TsUdpClient.connect(ep, { onPush });
      clients.push(old);

      let seq = 0;
      const answers: Promise<{ status: number }>[] = [];
      for (; seq < 100; ) answers.push(old.request(2, 4, u32(++seq)));
      // 100 pushes, 5 ms apart: the stream (scheduled in the victim's process) runs across the move.
      expect((await old.request(2, 6, Buffer.from([0, 0, 0, STREAM, 0, 0, 0, 5]))).status).toBe(1);

      victim.kill('SIGTERM');
      await offlineSeen;
      for (; seq < 200; ) answers.push(old.request(2, 4, u32(++seq)));
      const m = await old.migrate();
      expect((await Promise.all(answers)).every((a) => a.status === 1)).toBe(true);
      if (!m.ok) throw new Error('migration refused');
      expect(m.port).not.toBe(ep.serverPort);
      expect(ports.has(m.port)).toBe(true);
      expect(await old.closed).toBe('closed-by-server');

      const next = await TsUdpClient.connect({ ...ep, serverHost: m.host, serverPort: m.port }, { claim: m.ticket, onPush });
      clients.push(next);
      const more: Promise<{ status: number }>[] = [];
      for (; seq < 300; ) more.push(next.request(2, 4, u32(++seq)));
      expect((await Promise.all(more)).every((a) => a.status === 1)).toBe(true);
      await streamComplete;
      expect(stream).toEqual(Array.from({ length: STREAM }, (_, i) => i + 1));
      const data = JSON.parse((await next.request(2, 5, Buffer.alloc(0))).payload.toString('utf8')) as Record<string, number>;
      expect(data.lastSeq).toBe(seq);
      expect(data.gaps ?? 0).toBe(0);
      expect(data.dups ?? 0).toBe(0);

      // The victim empties (its stream finished routing through Redis) and exits cleanly.
      expect((await victim.exited).code).toBe(0);
      expect(victim.events.some((e) => e.event === 'handoff' && e.sid === ep.sid)).toBe(true);
    } finally {
      for (const c of clients) c.destroy();
      await Promise.all(procs.map((p) => p.stop()));
      await redis.stop();
    }
  }, 60_000);
});
