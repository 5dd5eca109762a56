// FIFO pairing of answers to requests of one ver/cmd, when one of them times out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiarkisError, getEndpoint, TcpClient } from '../src/client';
import { startCluster, type Cluster } from '../src/server';

describe('TcpClient request FIFO', () => {
  let cluster: Cluster;
  // The handler of 7/10 holds an answer until the test opens its gate.
  const gates = new Map<string, Promise<void>>();
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 0 });
    cluster.handle(7, 10, async (ctx) => {
      const tag = ctx.payload.toString();
      await gates.get(tag);
      return Buffer.from(`answer-${tag}`);
    });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('a timed-out request keeps its place and swallows its late answer', async () => {
    let open!: () => void;
    gates.set('slow', new Promise<void>((r) => (open = r)));
    const client = new TcpClient();
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'fifo-1' }));
    const seen: string[] = [];
    client.on('response', (_v, _c, _s, p) => seen.push(p.toString()));

    const slow = client.request(7, 10, Buffer.from('slow'), { timeoutMs: 50 });
    const second = client.request(7, 10, Buffer.from('second'), { timeoutMs: 30_000 });
    const third = client.request(7, 10, Buffer.from('third'), { timeoutMs: 30_000 });

    const err = await slow.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiarkisError);
    expect((err as DiarkisError).code).toBe('timeout');
    open();  // the server answers 'slow' first (late), then the others in order

    expect((await second).payload.toString()).toBe('answer-second');
    expect((await third).payload.toString()).toBe('answer-third');
    expect(seen).toEqual(['answer-slow', 'answer-second', 'answer-third']);
    await client.close();
  });

  it('requests of different ver/cmd are paired independently', async () => {
    let open!: () => void;
    gates.set('held', new Promise<void>((r) => (open = r)));
    const client = new TcpClient();
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'fifo-2' }));
    const held = client.request(7, 10, Buffer.from('held'));
    const echo = client.request(2, 1, Buffer.from('echo'));
    open();
    expect((await held).payload.toString()).toBe('answer-held');
    expect((await echo).payload.toString()).toBe('echo');
    await client.close();
  });

  it('pending requests reject when the connection ends', async () => {
    gates.set('never', new Promise<void>(() => undefined));
    const client = new TcpClient();
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'fifo-3' }));
    const pending = client.request(7, 10, Buffer.from('never'));
    client.destroy();
    const err = (await pending.catch((e: unknown) => e)) as DiarkisError;
    expect(err).toBeInstanceOf(DiarkisError);
    expect(err.code).toBe('not-connected');
  });
});
