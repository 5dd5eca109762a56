// The UDP node keeps every session's RUDP deadlines under one clock timer (node-timers.ts). With
// a ManualClock as the node's RUDP time: the pending TTL of a registered session that never
// connects, and many connected sessions timing out in one pass, end them as before, and the node
// holds one clock timer at most however many sessions wait.
import { afterEach, describe, expect, it } from 'vitest';
import { PENDING_SESSION_TTL_MS } from '../src/protocol';
import { ManualClock } from '../src/server';
import { startUdpNodeRig, TsUdpClient, type UdpNodeRig } from './helpers/ts-udp-client';

let rig: UdpNodeRig | null = null;
const clients: TsUdpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) if (c.closeReason === null) c.destroy();
  await rig?.stop();
  rig = null;
});

describe('UDP node timers (one per node)', () => {
  it('a registered session never connected ends at the pending TTL; one clock timer for all', async () => {
    const clock = new ManualClock(5000);
    const r = (rig = await startUdpNodeRig({ rudpClock: clock }));
    for (const uid of ['a', 'b', 'c']) {
      await r.register(uid);
      clock.advance(1000);
    }
    expect(r.node.users).toBe(3);
    expect(r.node.timedSessions).toBe(3);
    expect(clock.pending).toBe(1);
    clock.advance(PENDING_SESSION_TTL_MS - 3000);
    expect(r.node.users).toBe(2);
    clock.advance(2000);
    expect(r.node.users).toBe(0);
    expect(r.node.timedSessions).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('many connected sessions wait under one clock timer and time out together when silent', async () => {
    const clock = new ManualClock(0);
    const ttl = 10_000;
    const r = (rig = await startUdpNodeRig({ rudpClock: clock, connectionTtlMs: ttl }));
    const n = 40;
    for (let i = 0; i < n; i++) {
      const ep = await r.register(`u${i}`);
      const c = await TsUdpClient.connect(ep, { retryMinMs: 100, retryMaxMs: 1000, maxRetries: 50 });
      clients.push(c);
      expect((await c.request(2, 1, Buffer.from(`hi-${i}`))).payload.toString()).toBe(`hi-${i}`);
      // Past the node's ACK pace (4 ms), so no record waits for a timer that never fires here.
      clock.advance(10);
    }
    expect(r.node.users).toBe(n);
    expect(r.node.timedSessions).toBe(n);
    expect(clock.pending).toBe(1);
    // Bound sessions no longer carry the pending TTL: nothing ends at 60 s of silence but the TTL.
    clock.advance(ttl - n * 10 - 1);
    expect(r.node.users).toBe(n);
    // The connection TTL passes for every session: each ends inside its own timer callback, in one pass.
    clock.advance(n * 10 + 1);
    expect(r.node.users).toBe(0);
    expect(r.node.timedSessions).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
