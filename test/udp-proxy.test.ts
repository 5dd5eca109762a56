import { createSocket, Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom, UdpProxy, UdpProxyOptions } from './helpers/udp-proxy';

/** Waits for a condition that an event will make true; the bound is a generous safety net only. */
async function waitFor(cond: () => boolean, boundMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > boundMs) throw new Error('condition not reached');
    await new Promise((r) => setImmediate(r));
  }
}

interface Rig {
  server: Socket;
  client: Socket;
  proxy: UdpProxy;
  atServer: number[];
  atClient: number[];
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c();
});

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  open.push(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

/** A server that echoes every datagram, a client, and a proxy between them. */
async function rig(opts: Omit<UdpProxyOptions, 'target'>): Promise<Rig> {
  const server = await bound();
  const client = await bound();
  const proxy = await UdpProxy.start({ ...opts, target: { host: '127.0.0.1', port: server.address().port } });
  open.push(() => proxy.close());
  const atServer: number[] = [];
  const atClient: number[] = [];
  server.on('message', (m, r) => {
    atServer.push(m.readUInt32BE(0));
    server.send(m, r.port, r.address);
  });
  client.on('message', (m) => atClient.push(m.readUInt32BE(0)));
  return { server, client, proxy, atServer, atClient };
}

/** Sends 0..n-1, each after the previous one left the socket (so the proxy sees them in order). */
async function sendAll(r: Rig, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(i, 0);
    await new Promise<void>((res, rej) => r.client.send(b, r.proxy.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  }
}

describe('seededRandom', () => {
  it('repeats for a seed and differs between seeds', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const xa = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xa);
    expect(Array.from({ length: 5 }, c)).not.toEqual(xa);
    for (const x of xa) expect(x >= 0 && x < 1).toBe(true);
  });
});

describe('UdpProxy', () => {
  it('forwards both ways without faults and counts', async () => {
    const r = await rig({});
    await sendAll(r, 50);
    await waitFor(() => r.atClient.length === 50);
    expect(r.atServer).toEqual([...Array(50).keys()]);
    expect(r.proxy.counters.toServer).toMatchObject({ received: 50, forwarded: 50, dropped: 0 });
    expect(r.proxy.counters.toClient).toMatchObject({ received: 50, forwarded: 50, dropped: 0 });
  });

  it('drops a share of datagrams and counts exactly what it dropped', async () => {
    const r = await rig({ seed: 42, toServer: { lossPct: 30 } });
    await sendAll(r, 200);
    await waitFor(() => r.proxy.counters.toServer.received === 200);
    const c = r.proxy.counters.toServer;
    await waitFor(() => r.atClient.length === c.forwarded);
    expect(c.dropped + c.forwarded).toBe(200);
    expect(c.dropped).toBeGreaterThan(20);
    expect(c.dropped).toBeLessThan(100);
    expect(r.atServer.length).toBe(c.forwarded);
  });

  it('taps every datagram it receives, either way, before its faults (the datagrams it drops too)', async () => {
    const tapped: string[] = [];
    const r = await rig({ seed: 3, toServer: { lossPct: 50 }, tap: (dir, msg) => tapped.push(`${dir}:${msg.readUInt32BE(0)}`) });
    await sendAll(r, 40);
    const forwarded = (): number => r.proxy.counters.toServer.forwarded;
    await waitFor(() => r.atClient.length === forwarded() && tapped.length === 40 + forwarded());
    expect(tapped.filter((t) => t.startsWith('toServer:'))).toEqual([...Array(40).keys()].map((i) => `toServer:${i}`));
    expect(tapped.filter((t) => t.startsWith('toClient:')).length).toBe(forwarded());
    expect(forwarded()).toBeLessThan(40);
  });

  it('replays the same decisions for the same seed', async () => {
    const faults = { seed: 1234, toServer: { lossPct: 25, duplicatePct: 20 } };
    const runs: number[][] = [];
    for (let k = 0; k < 2; k++) {
      const r = await rig(faults);
      await sendAll(r, 100);
      await waitFor(() => r.proxy.counters.toServer.received === 100);
      await waitFor(() => r.atServer.length === r.proxy.counters.toServer.forwarded);
      runs.push([...r.atServer]);
    }
    expect(runs[1]).toEqual(runs[0]);
  });

  it('duplicates every datagram at 100 %', async () => {
    const r = await rig({ toClient: { duplicatePct: 100 } });
    await sendAll(r, 20);
    await waitFor(() => r.atClient.length === 40);
    expect(r.proxy.counters.toClient.duplicated).toBe(20);
    expect(r.atServer.length).toBe(20);
  });

  it('reorders without losing anything', async () => {
    const r = await rig({ seed: 5, toServer: { reorderPct: 30 } });
    await sendAll(r, 100);
    await waitFor(() => r.atServer.length === 100);
    expect(r.proxy.counters.toServer.reordered).toBeGreaterThan(0);
    expect([...r.atServer].sort((a, b) => a - b)).toEqual([...Array(100).keys()]);
    expect(r.atServer).not.toEqual([...Array(100).keys()]);
  });

  it('delays with jitter and still delivers everything', async () => {
    const r = await rig({ seed: 9, toServer: { delayMs: 5, jitterMs: 10 }, toClient: { delayMs: 1 } });
    await sendAll(r, 30);
    await waitFor(() => r.atClient.length === 30);
    expect(r.proxy.counters.toServer.delayed).toBe(30);
    expect(r.proxy.counters.toClient.delayed).toBe(30);
  });

  it('keeps one upstream address per client and closes cleanly', async () => {
    const r = await rig({});
    const other = await bound();
    const seen = new Set<number>();
    r.server.on('message', (_m, info) => seen.add(info.port));
    await sendAll(r, 3);
    await new Promise<void>((res) => other.send(Buffer.alloc(4), r.proxy.port, '127.0.0.1', () => res()));
    await waitFor(() => r.atServer.length === 4);
    expect(seen.size).toBe(2);
    await r.proxy.close();
    await r.proxy.close();
  });
});
