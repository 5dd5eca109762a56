// The receive high-water mark through the real client (issue 11): a hostile TCP
// node in another process pushes 200,000 x 1 KiB while this JS thread is blocked
// for 3 s. Every push arrives, in order, and the native count of undelivered
// bytes (stats().undeliveredBytes, not RSS) stays near receiveHighWaterMark: the
// client stops reading and the kernel's window pushes back on the node.
import { afterEach, describe, expect, it } from 'vitest';
import { getEndpoint, TcpClient, UdpClient, type Endpoint } from '../src/client';
import { requireDist, runFixture, type Child } from './fixtures/spawn';

const COUNT = 200_000;
const SIZE = 1024;
const DEFAULT_MARK = 4 << 20;
// One read (64 KiB) is decoded and delivered before the mark is checked again.
const SLACK = 128 << 10;

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.proc.kill();
});

async function floodServer(): Promise<Endpoint> {
  requireDist();
  const child = runFixture('push-flood-server.js', [String(COUNT), String(SIZE)]);
  children.push(child);
  await child.waitFor('ready ');
  const line = child.stdout().split('\n').find((l) => l.startsWith('ready '))!;
  return JSON.parse(line.slice('ready '.length)) as Endpoint;
}

/**
 * Blocks this JS thread for `ms` (a long computation), sampling the native count meanwhile;
 * `onPause` runs once, inside the block, when the client has paused reading.
 */
function blockAndSample(ms: number, client: TcpClient | UdpClient, onPause?: () => void): number {
  let max = 0;
  let paused = false;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = client.stats();
    max = Math.max(max, s.undeliveredBytes);
    if (!paused && s.receivePauses > 0 && onPause !== undefined) {
      paused = true;
      onPause();
    }
  }
  return max;
}

// The thread driver reads while JS is blocked and pauses at the mark. The loop driver reads
// nothing while JS is blocked; with a 64 KiB mark one loop turn's read (up to 1 MiB) passes it,
// so its pause (the socket unwatched) and resume (rewatched by the take) run on every turn.
describe.each([
  { io: 'thread' as const, mark: undefined },
  { io: 'loop' as const, mark: undefined },
  { io: 'loop' as const, mark: 64 << 10 },
])('receive high-water mark, io: $io, mark: $mark', ({ io, mark }) => {
  it('200,000 x 1 KiB pushes while JS blocks 3 s: all arrive in order, the queue stays near the mark', async () => {
    const ep = await floodServer();
    // undefined: the defaults (receiveHighWaterMark 4 MiB)
    const client = new TcpClient(mark === undefined ? { io } : { io, receiveHighWaterMark: mark });
    const limit = (mark ?? DEFAULT_MARK) + SLACK;
    await client.connect(ep);
    let next = 0;
    let outOfOrder = 0;
    let maxQueued = 0;
    const all = new Promise<void>((resolve) => {
      client.on('push', (ver, cmd, payload) => {
        if (ver !== 2 || cmd !== 51) return;
        if (payload.readUInt32BE(0) !== next || payload.length !== SIZE) outOfOrder++;
        next++;
        if (next % 1000 === 0) maxQueued = Math.max(maxQueued, client.stats().undeliveredBytes);
        if (next === COUNT) resolve();
      });
    });
    let disconnected = '';
    client.on('disconnect', (reason) => (disconnected = reason));
    const started = await client.request(2, 50, Buffer.alloc(0));
    expect(started.payload.toString()).toBe('flooding');
    const duringBlock = blockAndSample(3000, client);
    await all;
    expect(next).toBe(COUNT);
    expect(outOfOrder).toBe(0);
    expect(disconnected).toBe('');
    const stats = client.stats();
    expect(Math.max(duringBlock, maxQueued)).toBeLessThanOrEqual(limit);
    if (io === 'thread') {
      // The network thread read while JS was blocked: it filled up to the mark and paused.
      expect(duringBlock).toBeGreaterThanOrEqual(DEFAULT_MARK);
      expect(stats.receivePauses).toBeGreaterThanOrEqual(1);
    } else {
      // Nothing runs on this thread's loop while JS blocks; the kernel held the bytes.
      expect(duringBlock).toBe(0);
      if (mark !== undefined) expect(stats.receivePauses).toBeGreaterThan(10);
    }
    expect(stats.undeliveredBytes).toBe(0);
    await client.close();
  }, 120_000);
});

describe('receive high-water mark, UDP (io: thread)', () => {
  it('reliable pushes beyond the mark are refused and resent, none lost; unreliable ones are dropped and counted', async () => {
    requireDist();
    const node = runFixture('udp-flood-node.js', []);
    children.push(node);
    await node.waitFor('entry ');
    const entry = node.stdout().split('\n').find((l) => l.startsWith('entry '))!.slice('entry '.length);
    const mark = 256 << 10;
    const count = 10_000;
    const client = new UdpClient({ io: 'thread', receiveHighWaterMark: mark });
    await client.connect(await getEndpoint(entry, { type: 'UDP', uid: 'udp-flood' }));
    let next = 0;
    let outOfOrder = 0;
    const all = new Promise<void>((resolve) => {
      client.on('push', (ver, cmd, payload) => {
        if (ver !== 2 || cmd !== 51) return;
        if (payload.readUInt32BE(0) !== next) outOfOrder++;
        if (++next === count) resolve();
      });
    });
    let disconnected = '';
    client.on('disconnect', (reason) => (disconnected = reason));
    const req = Buffer.alloc(8);
    req.writeUInt32BE(count, 0);
    req.writeUInt32BE(SIZE, 4);
    expect((await client.request(2, 50, req)).payload.toString()).toBe('flooding');
    // Once paused (inside the block), unreliable requests: the node answers them unreliably.
    const max = blockAndSample(3000, client, () => {
      for (let i = 0; i < 20; i++) client.send(2, 1, Buffer.from('unreliable'));
    });
    await all;
    expect(next).toBe(count);
    expect(outOfOrder).toBe(0);
    expect(disconnected).toBe('');
    const s = client.stats();
    expect(max).toBeGreaterThanOrEqual(mark);
    expect(max).toBeLessThanOrEqual(mark + (64 << 10));
    expect(s.receivePauses).toBeGreaterThanOrEqual(1);
    expect(s.receiveDeferred).toBeGreaterThan(0);
    expect(s.drops['receive-backlog']).toBeGreaterThan(0);
    await client.close();
  }, 120_000);
});

describe('maximum receive stall', () => {
  it('a client paused longer than maxReceiveStallMs disconnects with receive-stalled', async () => {
    const ep = await floodServer();
    const client = new TcpClient({ io: 'thread', receiveHighWaterMark: 64 << 10, maxReceiveStallMs: 300 });
    await client.connect(ep);
    const reason = new Promise<string>((resolve) => client.once('disconnect', (r) => resolve(r)));
    await client.request(2, 50, Buffer.alloc(0));
    blockAndSample(1500, client);  // paused at once, for longer than the stall bound
    expect(await reason).toBe('receive-stalled');
    expect(client.stats().receivePauses).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

describe('receive high-water mark options', () => {
  it('are validated', () => {
    expect(() => new TcpClient({ receiveHighWaterMark: 10 })).toThrow(/receiveHighWaterMark/);
    expect(() => new TcpClient({ maxReceiveStallMs: 0 })).toThrow(/maxReceiveStallMs/);
  });
});
