import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScriptSender } from '../src/server/redis-send';
import { RedisServer } from './helpers/redis-server';

let server: RedisServer;
beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server?.stop();
});

/** A client with its socket writes counted. */
async function client(autoPipelining: boolean): Promise<{ redis: Redis; writes: () => number }> {
  const redis = new Redis(server.url, { enableAutoPipelining: autoPipelining, lazyConnect: true });
  await redis.connect();
  await redis.ping();
  const stream = (redis as unknown as { stream: { write: (...a: unknown[]) => boolean } }).stream;
  const write = stream.write.bind(stream);
  let n = 0;
  stream.write = (...a: unknown[]) => {
    n++;
    return write(...a);
  };
  return { redis, writes: () => n };
}

const PUSH = "redis.call('RPUSH', ARGV[1], ARGV[2]) return redis.call('LLEN', ARGV[1])";
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ScriptSender', () => {
  it("writes a turn's first script at once and pipelines the rest of the turn, in order", async () => {
    const { redis, writes } = await client(true);
    try {
      const s = new ScriptSender(redis, true);
      await nextTurn();
      let w = writes();
      expect(await s.send('eval', [PUSH, 0, 'l1', 'x'])).toBe(1);
      expect(writes() - w).toBe(1);
      expect(s.counts).toEqual({ direct: 1, pipelined: 0 });
      await nextTurn();
      w = writes();
      const all = Array.from({ length: 20 }, (_, i) => s.send('eval', [PUSH, 0, 'l2', String(i)]));
      expect(await Promise.all(all)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      // One write for the first, one for the pipeline of the other 19.
      expect(writes() - w).toBe(2);
      expect(s.counts).toEqual({ direct: 2, pipelined: 19 });
      expect(await redis.lrange('l2', 0, -1)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    } finally {
      redis.disconnect();
    }
  });

  it('never overtakes a command waiting in the pipeline', async () => {
    const { redis } = await client(true);
    try {
      const s = new ScriptSender(redis, true);
      await nextTurn();
      // Issued first, through ioredis's pipeline (not written yet); the script must come after it.
      const first = redis.rpush('l3', 'a');
      const second = s.send('eval', [PUSH, 0, 'l3', 'b']);
      await Promise.all([first, second]);
      expect(s.counts).toEqual({ direct: 0, pipelined: 1 });
      expect(await redis.lrange('l3', 0, -1)).toEqual(['a', 'b']);
    } finally {
      redis.disconnect();
    }
  });

  it('without auto-pipelining every script is written at once', async () => {
    const { redis, writes } = await client(false);
    try {
      const s = new ScriptSender(redis, false);
      const w = writes();
      expect(await Promise.all([s.send('eval', [PUSH, 0, 'l4', 'a']), s.send('eval', [PUSH, 0, 'l4', 'b'])])).toEqual([1, 2]);
      expect(writes() - w).toBe(2);
      expect(s.counts).toEqual({ direct: 2, pipelined: 0 });
    } finally {
      redis.disconnect();
    }
  });
});
