/**
 * After an RTO the pump resends the lost DATs from a cursor (reliable.ts resendLost) instead of
 * walking from the oldest DAT on every call. Under random loss with blackouts (RTOs with the whole
 * window lost, then slow start through it), on a fake clock, a sender with the cursor and one with
 * the old walk from the oldest get the same inputs and must emit the same datagrams, byte for
 * byte; after every call no lost DAT lies before the cursor.
 */
import { describe, expect, it } from 'vitest';
import { AckRecord, Flag, isParsed, parseDatagram, ReliableSender, seqAdd, seqDiff } from '../src/protocol/rudp';
import { seededRandom } from './helpers/udp-proxy';

interface Slot {
  lost: boolean;
}
/** The sender's private state the checks read, and the old walk written over its pump's. */
interface Inside {
  inflight: Slot[];
  head: number;
  base: number;
  pipe: number;
  lostCount: number;
  lostFrom: number;
  cc: { window: number };
  resend(i: number, now: number): void;
  resendLost(now: number): void;
}

/** The walk before the cursor: from the oldest DAT every time. */
function oldWalk(this: Inside, now: number): void {
  for (let i = this.head; this.lostCount > 0 && i < this.inflight.length; i++) {
    if (this.pipe >= this.cc.window) break;
    if (this.inflight[i].lost) this.resend(i, now);
  }
}

function run(seed: number, initialSeq: number): { datagrams: number; waiting: number; delivered: number } {
  const rnd = seededRandom(seed);
  const outA: Buffer[] = [];
  const outB: Buffer[] = [];
  const opts = { initialSeq, adaptive: true, window: 256, rtoMinMs: 50, maxRetries: 1000 };
  const a = new ReliableSender(opts, (d) => outA.push(Buffer.from(d)));
  const b = new ReliableSender(opts, (d) => outB.push(Buffer.from(d)));
  (b as unknown as Inside).resendLost = oldWalk;
  const x = a as unknown as Inside;
  const wire: { at: number; rec: AckRecord }[] = [];
  let now = 0;
  let blackoutUntil = -1;
  let waiting = 0;
  let compared = 0;
  let shipped = 0;
  const acked = new Set<number>();
  const check = (): void => {
    // Same output so far, and nothing lost before the cursor (plain ifs: expect() per datagram is slow).
    if (outA.length !== outB.length) expect(outA.length).toBe(outB.length);
    for (; compared < outA.length; compared++) {
      if (!(outA[compared] as Buffer).equals(outB[compared] as Buffer)) expect(outA[compared]).toEqual(outB[compared]);
    }
    const from = Math.min(x.head + Math.max(0, seqDiff(x.lostFrom, x.base)), x.inflight.length);
    for (let i = x.head; i < from; i++) if (x.inflight[i]?.lost === true) expect({ lostBeforeCursor: i - x.head }).toBeNull();
    if (x.lostCount > 0 && x.pipe < x.cc.window) expect({ lost: x.lostCount, pipe: x.pipe, cwnd: x.cc.window }).toBeNull();
    if (x.lostCount > 0) waiting++;
  };
  const ship = (): void => {
    for (const d of outA.slice(shipped)) {
      const p = parseDatagram(d);
      if (!isParsed(p) || (p.flag !== Flag.DAT && p.flag !== Flag.RDAT)) continue;
      if (now < blackoutUntil || rnd() < 0.1) continue;
      wire.push({ at: now + 5 + rnd() * 40, rec: { seq: p.seq, flag: p.flag === Flag.DAT ? Flag.ACK : Flag.RACK } });
    }
    shipped = outA.length;
  };
  let sent = 0;
  for (let step = 0; step < 6000 && !a.isTimedOut; step++) {
    now += rnd() * 3;
    if (step > 200 && rnd() < 0.0008) blackoutUntil = now + 100 + rnd() * 300; // everything lost for a while
    if (sent < 5000 && rnd() < 0.5) {
      const n = 1 + Math.floor(rnd() * 12);
      for (let i = 0; i < n; i++, sent++) {
        const body = Buffer.from([sent & 0xff]);
        a.send(body, now, true);
        b.send(body, now, true);
      }
      check();
    }
    ship();
    wire.sort((p, q) => p.at - q.at);
    while (wire.length > 0 && (wire[0] as (typeof wire)[number]).at <= now) {
      const w = wire.shift() as (typeof wire)[number];
      if (a.onAck(w.rec, now) !== b.onAck(w.rec, now)) expect.unreachable('onAck differs');
      acked.add(w.rec.seq);
      check();
    }
    ship();
    const d = a.nextDeadline();
    if (b.nextDeadline() !== d) expect(b.nextDeadline()).toBe(d);
    if (d !== null && d <= now) {
      if (a.tick(now) !== b.tick(now)) expect.unreachable('tick differs');
      check();
      ship();
    }
  }
  expect(a.isTimedOut).toBe(false);
  return { datagrams: outA.length, waiting, delivered: acked.size };
}

describe('ReliableSender: the lost DATs waiting for the window', () => {
  it('are resent from the cursor exactly as the walk from the oldest resent them', () => {
    let waiting = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const r = run(seed, seed % 2 === 0 ? 0xfffff0 : 7);
      expect(r.delivered).toBeGreaterThan(3000);
      waiting += r.waiting;
    }
    // RTOs left DATs waiting for the window often: the cursor was exercised, not only the happy path.
    expect(waiting).toBeGreaterThan(500);
  });

  it('keeps its cursor valid across the 24-bit wrap and after long runs without loss', () => {
    // A sender that loses nothing for far more than 2^23 DATs would leave an old cursor half a
    // sequence space behind; the next loss must still be found (markLost resets it).
    const out: Buffer[] = [];
    const s = new ReliableSender({ initialSeq: 0xfffffe, adaptive: true, rtoMinMs: 50 }, (d) => out.push(d));
    const x = s as unknown as Inside;
    x.lostFrom = seqAdd(0xfffffe, 0x800001); // as if stale by more than half the space
    for (let i = 0; i < 4; i++) s.send(Buffer.from([i]), 0, true);
    const before = out.length;
    // Nothing acknowledged: the RTO marks all four lost, the window lets the oldest go again.
    const d = s.nextDeadline() as number;
    s.tick(d);
    const resent = out.slice(before).map((b) => parseDatagram(b)).filter(isParsed);
    expect(resent.map((p) => [p.seq, p.flag])).toEqual([[0xfffffe, Flag.RDAT]]);
    s.onAck({ seq: 0xfffffe, flag: Flag.RACK }, d + 10);
    const next = out.slice(before + 1).map((b) => parseDatagram(b)).filter(isParsed);
    expect(next.map((p) => p.seq)).toEqual([0xffffff, 0, 1].slice(0, next.length));
    expect(next.length).toBeGreaterThan(0);
  });
});
