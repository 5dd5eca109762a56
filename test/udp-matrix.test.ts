// The RUDP condition matrix through the REAL native UdpClient and the seeded fault proxy:
// 2000 reliable 2/4 requests client->server and 2000 reliable 2/3 push-backs server->client per
// case, all pipelined; exactly-once in-order delivery is checked with the node's 2/5 counters
// and the pushes received. Client and node run at their DEFAULTS (no tuned windows, retries or
// timeouts); one case puts the node on the wire schedule (udp.retry 'wire', as the stock server).
import { afterEach, describe, expect, it } from 'vitest';
import { getEndpoint, UdpClient } from '../src/client';
import { startCluster } from '../src/server';
import { DirectionFaults, UdpProxy } from './helpers/udp-proxy';

const MESSAGES = 2000;

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Case {
  seed: number;
  faults: DirectionFaults;
  /** The node's sender: its default (adaptive) or the stock server's fixed schedule. */
  nodeRetry?: 'wire';
}

async function runCase(c: Case): Promise<{ proxy: UdpProxy; client: UdpClient; ms: number }> {
  const cluster = await startCluster({ tcpNodes: 0, udpNodes: 1, udp: c.nodeRetry === undefined ? {} : { retry: c.nodeRetry } });
  cleanups.push(() => cluster.stop());
  const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: `matrix-${c.seed}` });
  const proxy = await UdpProxy.start({
    seed: c.seed,
    target: { host: ep.serverHost, port: ep.serverPort },
    toServer: c.faults,
    toClient: c.faults,
  });
  cleanups.push(() => proxy.close());
  // Transport options at their defaults. The request deadline (an application choice, counted
  // from the call) covers the whole pipelined burst of 4000 here, so it is raised; against the
  // wire-schedule node one answer alone can wait 1 + 2 + 4 s behind repeated losses.
  const client = new UdpClient({ requestTimeoutMs: 100_000 });
  cleanups.push(() => client.close());
  await client.connect({ ...ep, serverPort: proxy.port });
  const started = performance.now();

  const pushes: number[] = [];
  let pushedTwice = 0;
  const allPushes = new Promise<void>((resolve) => {
    client.on('push', (ver, cmd, payload) => {
      if (ver !== 2 || cmd !== 3) return;
      const n = payload.readUInt32BE(0);
      if (pushes.includes(n)) pushedTwice++;
      pushes.push(n);
      if (pushes.length === MESSAGES) resolve();
    });
  });
  // Everything in flight at once: the send window paces it, the rest waits in the native queue.
  const seqAnswers: Promise<{ status: number; payload: Buffer }>[] = [];
  const pushAnswers: Promise<{ status: number }>[] = [];
  for (let n = 1; n <= MESSAGES; n++) {
    seqAnswers.push(client.request(2, 4, u32(n)));
    pushAnswers.push(client.request(2, 3, u32(n)));
  }
  const got = await Promise.all(seqAnswers);
  // The node answers max(n, lastSeq): exactly i+1 means every one arrived once and in order.
  expect(got.every((a, i) => a.status === 1 && a.payload.readUInt32BE(0) === i + 1)).toBe(true);
  expect((await Promise.all(pushAnswers)).every((a) => a.status === 1)).toBe(true);
  await allPushes;
  expect(pushedTwice).toBe(0);
  expect(pushes).toEqual(Array.from({ length: MESSAGES }, (_, i) => i + 1));

  const data = JSON.parse((await client.request(2, 5)).payload.toString()) as Record<string, number>;
  expect(data.lastSeq).toBe(MESSAGES);
  expect(data.gaps ?? 0).toBe(0);
  expect(data.dups ?? 0).toBe(0);
  expect(client.state).toBe('connected');
  return { proxy, client, ms: performance.now() - started };
}

const TIMEOUT = { timeout: 110_000 };

describe('UDP condition matrix through the native UdpClient, defaults on both ends', () => {
  it('clean: no loss, delay, reordering or duplicates', TIMEOUT, async () => {
    const { proxy, client } = await runCase({ seed: 1, faults: {} });
    expect(proxy.counters.toServer.dropped + proxy.counters.toClient.dropped).toBe(0);
    // 4000 small requests packed: far fewer datagrams than messages (one each before).
    expect(client.stats().packetsSent).toBeLessThan(1500);
  });

  it('normal: 10 % loss, 50 ms ± 10 each way, 5 % reorder', TIMEOUT, async () => {
    const { proxy, client } = await runCase({ seed: 2, faults: { lossPct: 10, delayMs: 40, jitterMs: 20, reorderPct: 5 } });
    expect(proxy.counters.toServer.dropped).toBeGreaterThan(0);
    expect(proxy.counters.toClient.dropped).toBeGreaterThan(0);
    expect(proxy.counters.toServer.reordered + proxy.counters.toClient.reordered).toBeGreaterThan(0);
    expect(client.stats().retransmits).toBeGreaterThan(0);
  });

  it('harsh: 20 % loss, 100 ms ± 20 each way, 30 % reorder, 25 % duplicates', TIMEOUT, async () => {
    const { proxy, client } = await runCase({
      seed: 3,
      faults: { lossPct: 20, delayMs: 80, jitterMs: 40, reorderPct: 30, duplicatePct: 25 },
    });
    expect(proxy.counters.toClient.duplicated).toBeGreaterThan(0);
    expect(proxy.counters.toServer.duplicated).toBeGreaterThan(0);
    // Duplicates reached the client and were dropped there, not delivered twice.
    expect(client.stats().drops.duplicate ?? 0).toBeGreaterThan(0);
    expect(client.stats().retransmits).toBeGreaterThan(0);
  });

  it('a node on the wire schedule (fixed 1/2/4/8 s resends) at 10 % loss: everything still arrives', TIMEOUT, async () => {
    const { proxy, client } = await runCase({ seed: 4, nodeRetry: 'wire', faults: { lossPct: 10, delayMs: 20, jitterMs: 10 } });
    expect(proxy.counters.toClient.dropped).toBeGreaterThan(0);
    expect(client.stats().retransmits).toBeGreaterThan(0);
  });
});
