// The UDP response path (issue 9, sixth session): a UDP session decrypts its responses and
// pushes straight into the event queue's arena at its in-order delivery point (after the
// reliable channel and the reassembly of fragments), and a batch hands them to JS in one slab.
// Payloads must be exact, in order (responses and pushes together), per client, whatever their
// size, and stay intact after later batches; a client that ends mid-batch must not disturb the
// others. On both drivers (vitest.config.ts runs udp-client-* again with DIARKIS_IO=thread).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, UdpClient } from '../src/client';
import { startCluster, type Cluster } from '../src/server';
import { destroyMidBatch, payloadOf } from './helpers/response-path';

describe('UdpClient response path', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 0, udpNodes: 1 });
    cluster.handle(7, 11, (ctx) => ctx.payload);  // echo
  });
  afterAll(async () => {
    await cluster.stop();
  });

  async function connect(uid: string): Promise<UdpClient> {
    const client = new UdpClient({ requestTimeoutMs: 60_000 });
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'UDP', uid }));
    return client;
  }

  it('responses and pushes across clients in one turn: exact payloads, in order, fragmented and large ones among them', async () => {
    const clients = await Promise.all([0, 1, 2].map((i) => connect(`uresp-many-${i}`)));
    const n = 300;
    // Mostly small (the arena); some cut into chunks but still in the arena (3,000 B); some
    // at the arena's edge and larger than it (their own buffer); empty ones.
    const sizeAt = (i: number): number =>
      i % 50 === 7 ? 10_000 : i % 50 === 9 ? 4_040 : i % 50 === 13 ? 3_000 : i % 50 === 11 ? 0 : 16 + (i % 40);
    const isPush = (i: number): boolean => i % 5 === 4;  // 2/3 pushes the payload back, then answers empty
    const expected = clients.map((_c, k) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const p = payloadOf(k, i, sizeAt(i)).toString('latin1');
        if (isPush(i)) out.push(`P2/3:${p}`, 'R2/3:');
        else out.push(`R7/11:${p}`);
      }
      return out;
    });
    const seen: string[][] = clients.map(() => []);
    const buffers: Buffer[][] = clients.map(() => []);
    const done = clients.map(
      (c, k) =>
        new Promise<void>((resolve) => {
          const note = (line: string, p: Buffer): void => {
            seen[k]!.push(line);
            buffers[k]!.push(p);
            if (seen[k]!.length === expected[k]!.length) resolve();
          };
          c.on('response', (v, cmd, status, p) => {
            expect(status).toBe(1);
            note(`R${v}/${cmd}:${p.toString('latin1')}`, p);
          });
          c.on('push', (v, cmd, p) => note(`P${v}/${cmd}:${p.toString('latin1')}`, p));
        }),
    );
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < clients.length; k++) {
        if (isPush(i)) clients[k]!.rsend(2, 3, payloadOf(k, i, sizeAt(i)));
        else clients[k]!.rsend(7, 11, payloadOf(k, i, sizeAt(i)));
      }
    }
    await Promise.all(done);
    for (let k = 0; k < clients.length; k++) expect(seen[k], `client ${k}`).toEqual(expected[k]);
    // Delivered Buffers are views of their own batch's memory: later batches never overwrite them.
    const kept = buffers.map((s) => s.map((b) => Buffer.from(b)));
    const more = clients.map((c) => Promise.all(Array.from({ length: 200 }, (_, i) => c.request(7, 11, payloadOf(9, i, 64)))));
    await Promise.all(more);
    for (let k = 0; k < clients.length; k++) {
      for (let i = 0; i < kept[k]!.length; i++) expect(buffers[k]![i]!.equals(kept[k]![i]!)).toBe(true);
    }
    await Promise.all(clients.map((c) => c.close()));
  });

  it('a client destroyed in the middle of a batch: the others get all theirs, it gets nothing after its disconnect', async () => {
    const [a, b] = await Promise.all([connect('uresp-end-a'), connect('uresp-end-b')]);
    await destroyMidBatch(a, b, (c, p) => c.rsend(7, 11, p));
  });
});
