// The loop driver's batched sends (issue 9, fifth session): a turn's send()s and request()s
// reach the addon in one sendBatch call. Order, errors, backpressure and migration must be
// what the direct path gave (the thread driver runs the same suite on the direct path).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiarkisError, getEndpoint, TcpClient } from '../src/client';
import { loadNative } from '../src/native';
import { startCluster, type Cluster } from '../src/server';

// The batch is the loop driver's; on the thread driver the network thread writes while the
// test sends, so the exact points of the mark and of a refusal are the loop driver's only, and
// a send after close() is refused there only once the close has reached the network thread.
const loop = (process.env.DIARKIS_IO ?? 'loop') === 'loop';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof DiarkisError ? e.code : `not a DiarkisError: ${String(e)}`;
  }
  return undefined;
}

/** Resolves once `n` responses arrived; `seen` holds their payloads as strings, in order. */
function collect(client: TcpClient, n: number): { seen: string[]; done: Promise<void> } {
  const seen: string[] = [];
  const done = new Promise<void>((resolve) =>
    client.on('response', (_v, _c, _s, p) => {
      seen.push(p.toString());
      if (seen.length === n) resolve();
    }),
  );
  return { seen, done };
}

describe('TcpClient batched sends', () => {
  let cluster: Cluster;
  const received: string[] = [];
  let onReceived: (() => void) | undefined;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 2, udpNodes: 0, shutdownTimeoutMs: 60_000 });
    cluster.handle(7, 11, (ctx) => ctx.payload);  // echo on a second cmd
    cluster.handle(7, 12, (ctx) => {
      received.push(ctx.payload.toString());
      onReceived?.();
      return Buffer.alloc(0);
    });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  async function connect(uid: string, options: ConstructorParameters<typeof TcpClient>[0] = {}): Promise<TcpClient> {
    const client = new TcpClient({ requestTimeoutMs: 60_000, ...options });
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid }));
    return client;
  }

  it('many sends mixed with requests in one turn keep their order', async () => {
    const client = await connect('batch-order');
    const n = 600;
    const { seen, done } = collect(client, n);
    const expected: string[] = [];
    const requests: Array<Promise<string>> = [];
    for (let i = 0; i < n; i++) {
      const tag = `m-${i}`;
      expected.push(tag);
      if (i % 3 === 0) {
        requests.push(client.request(7, 11, Buffer.from(tag)).then((r) => r.payload.toString()));
      } else {
        expect(client.send(2, 1, Buffer.from(tag))).toBe(true);
      }
    }
    await done;
    expect(seen).toEqual(expected);
    expect(await Promise.all(requests)).toEqual(expected.filter((_, i) => i % 3 === 0));
    await client.close();
  });

  it('sends from several clients in one turn each keep their order', async () => {
    const clients = await Promise.all([0, 1, 2].map((k) => connect(`batch-multi-${k}`)));
    const logs = clients.map((c) => collect(c, 50));
    for (let i = 0; i < 50; i++) clients.forEach((c, k) => c.send(2, 1, Buffer.from(`${k}-${i}`)));
    await Promise.all(logs.map((l) => l.done));
    logs.forEach((l, k) => expect(l.seen).toEqual(Array.from({ length: 50 }, (_, i) => `${k}-${i}`)));
    await Promise.all(clients.map((c) => c.close()));
  });

  it('sends before close() in the same turn go out; a send after it throws not-connected', async () => {
    const client = await connect('batch-close');
    received.length = 0;
    const all = new Promise<void>((resolve) => (onReceived = () => received.length === 10 && resolve()));
    for (let i = 0; i < 10; i++) client.send(7, 12, Buffer.from(`c-${i}`));
    const closed = client.close();
    if (loop) expect(codeOf(() => client.send(7, 12, Buffer.from('late')))).toBe('not-connected');
    await closed;
    await all;
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => `c-${i}`));
    onReceived = undefined;
  });

  it('an oversized payload throws payload-too-large at once; the turn\'s other sends go out in order', async () => {
    const client = await connect('batch-large', { maxPayload: 1024 });
    const { seen, done } = collect(client, 2);
    client.send(2, 1, Buffer.from('before'));
    expect(codeOf(() => client.send(2, 1, Buffer.alloc(1025)))).toBe('payload-too-large');  // over maxPayload
    // Under maxPayload, over it once sealed (SID, length, MAC, padding): the native side's answer.
    expect(codeOf(() => client.send(2, 1, Buffer.alloc(1000)))).toBe('payload-too-large');
    client.send(2, 1, Buffer.from('after'));
    await done;
    expect(seen).toEqual(['before', 'after']);
    await client.close();
  });

  it('backpressure: false at the high-water mark within one turn, drain follows, writable again', async () => {
    const client = await connect('batch-bp', { highWaterMark: 4096 });
    const { seen, done } = collect(client, loop ? 40 : 41);
    const drained = new Promise<void>((resolve) => client.once('drain', resolve));
    const results: boolean[] = [];
    for (let i = 0; i < 40; i++) results.push(client.send(2, 1, Buffer.alloc(400, i)));
    if (loop) {
      // 40 x ~460 bytes: the first ones fit under 4096, then the mark is reached.
      expect(results[0]).toBe(true);
      expect(results[results.length - 1]).toBe(false);
      const firstFalse = results.indexOf(false);
      expect(firstFalse).toBeGreaterThan(0);
      expect(firstFalse).toBeLessThanOrEqual(9);
    } else {
      expect(client.send(2, 1, Buffer.alloc(8192, 40))).toBe(false);  // over the mark alone
    }
    await drained;
    await done;
    expect(seen.map((s) => s.charCodeAt(0))).toEqual(Array.from({ length: loop ? 40 : 41 }, (_, i) => i));
    expect(client.stats().queuedBytes).toBe(0);
    expect(client.send(2, 1, Buffer.alloc(400))).toBe(true);
    await client.close();
  });

  it('queue-full past maxQueuedBytes in the middle of a turn; the connection carries on', async () => {
    const client = await connect('batch-full', { maxQueuedBytes: 2048, highWaterMark: 1024 });
    let code: string | undefined;
    for (let i = 0; i < 20 && code === undefined; i++) code = codeOf(() => client.send(7, 12, Buffer.alloc(300)));
    if (loop) expect(code).toBe('queue-full');
    else expect(codeOf(() => client.send(7, 12, Buffer.alloc(4096)))).toBe('queue-full');
    expect((await client.request(2, 1, Buffer.from('ok'))).payload.toString()).toBe('ok');
    await client.close();
  });

  it('migration with sends pending in the batch: before it to the old node, after it held and replayed, all in order', async () => {
    const client = await connect('batch-migrate', { migration: 'manual' });
    const n = 40;
    const { seen, done } = collect(client, 2 * n);
    const expected: string[] = [];
    const requests: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      expected.push(`a-${i}`);
      requests.push(client.request(2, 1, Buffer.from(`a-${i}`)));
    }
    const moved = client.sendMigrate();
    expect(client.state).toBe('migrating');
    for (let i = 0; i < n; i++) {
      expected.push(`b-${i}`);
      requests.push(client.request(2, 1, Buffer.from(`b-${i}`)));
    }
    const info = await moved;
    expect(info.to).not.toBe(info.from);
    await Promise.all(requests);
    await done;
    expect(seen).toEqual(expected);
    expect(client.stats().migrations).toBe(1);
    await client.close();
  });

  it('sendBatch refuses malformed records with a RangeError and keeps what came before', async () => {
    const client = await connect('batch-malformed');
    const native = loadNative();
    const out = new Float64Array(8);
    const records = new Uint8Array(64);
    const words = new Uint32Array(records.buffer);
    // slot 1 before slot 0: malformed
    words[0] = 999_999;
    words[1] = 2 | (1 << 8);
    words[2] = 0;
    words[3] = 1;
    expect(() => native.sendBatch(records, 16, out)).toThrow(RangeError);
    // a length past the records
    words[3] = 0;
    words[2] = 1000;
    expect(() => native.sendBatch(records, 16, out)).toThrow(RangeError);
    // an unknown (released) client: refused, flag 4, nothing thrown
    words[2] = 0;
    native.sendBatch(records, 16, out);
    expect(out[0] & 4).toBe(4);
    expect(() => native.sendBatch(new Uint8Array(4), 8, out)).toThrow(RangeError);  // length past the array
    expect(() => native.sendBatch(records, 16.5, out)).toThrow(RangeError);
    expect(() => native.sendBatch(records, -1, out)).toThrow(RangeError);
    expect(() => native.sendBatch(records, Number.NaN, out)).toThrow();
    expect(() => native.sendBatch([] as unknown as Uint8Array, 0, out)).toThrow(TypeError);
    expect(() => native.sendBatch(records, 16, new Float32Array(8) as unknown as Float64Array)).toThrow(TypeError);
    expect((await client.request(2, 1, Buffer.from('alive'))).payload.toString()).toBe('alive');
    await client.close();
  });
});
