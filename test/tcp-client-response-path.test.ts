// The response path (issue 9, fifth session, second round): a TCP session decrypts its
// responses and pushes straight into the event queue's arena, and a batch hands them to JS
// in one slab. Payloads must be exact, in order, per client, whatever their size, and stay
// intact after later batches; a client that ends mid-batch must not disturb the others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, TcpClient } from '../src/client';
import { startCluster, type Cluster } from '../src/server';
import { destroyMidBatch, payloadOf } from './helpers/response-path';

describe('TcpClient response path', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 0 });
    cluster.handle(7, 11, (ctx) => ctx.payload);  // echo
  });
  afterAll(async () => {
    await cluster.stop();
  });

  async function connect(uid: string): Promise<TcpClient> {
    const client = new TcpClient({ requestTimeoutMs: 60_000 });
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid }));
    return client;
  }

  it('many responses across clients in one turn: exact payloads, in order, large ones among them', async () => {
    const clients = await Promise.all([0, 1, 2].map((i) => connect(`resp-many-${i}`)));
    const n = 300;
    // Mostly small (the arena), some at the arena's edge, some larger than it (their own buffer).
    const sizeAt = (i: number): number => (i % 50 === 7 ? 10_000 : i % 50 === 9 ? 4_040 : i % 50 === 11 ? 0 : 16 + (i % 40));
    const seen: Buffer[][] = clients.map(() => []);
    const done = clients.map(
      (c, k) =>
        new Promise<void>((resolve) =>
          c.on('response', (_v, _c, status, p) => {
            expect(status).toBe(1);
            seen[k]!.push(p);
            if (seen[k]!.length === n) resolve();
          }),
        ),
    );
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < clients.length; k++) clients[k]!.send(7, 11, payloadOf(k, i, sizeAt(i)));
    }
    await Promise.all(done);
    for (let k = 0; k < clients.length; k++) {
      for (let i = 0; i < n; i++) {
        expect(seen[k]![i]!.equals(payloadOf(k, i, sizeAt(i))), `client ${k} response ${i}`).toBe(true);
      }
    }
    // Delivered Buffers are views of their own batch's memory: later batches never overwrite them.
    const kept = seen.map((s) => s.map((b) => Buffer.from(b)));
    const more = clients.map((c) => Promise.all(Array.from({ length: 200 }, (_, i) => c.request(7, 11, payloadOf(9, i, 64)))));
    await Promise.all(more);
    for (let k = 0; k < clients.length; k++) {
      for (let i = 0; i < n; i++) expect(seen[k]![i]!.equals(kept[k]![i]!)).toBe(true);
    }
    await Promise.all(clients.map((c) => c.close()));
  });

  it('a client destroyed in the middle of a batch: the others get all theirs, it gets nothing after its disconnect', async () => {
    const [a, b] = await Promise.all([connect('resp-end-a'), connect('resp-end-b')]);
    await destroyMidBatch(a, b, (c, p) => c.send(7, 11, p));
  });
});
