/**
 * After an RTO the pump resends the lost DATs from the head of a list of those waiting (reliable.ts
 * resendLost) instead of walking the window on every call. Under random loss with blackouts (RTOs
 * with the whole window lost, then slow start through it), on a fake clock, a sender with the list
 * and one with the old walk from the oldest get the same inputs and must emit the same datagrams,
 * byte for byte; after every call the list holds exactly the lost DATs, in seq order.
 */
import { describe, expect, it } from 'vitest';
import { AckRecord, Flag, isParsed, parseDatagram, ReliableSender, seqAdd, seqDiff } from '../src/protocol/rudp';
import { seededRandom } from './helpers/udp-proxy';

interface Slot {
  lost: boolean;
  seq: number;
  next: Slot | null;
}
/** The sender's private state the checks read, and the old walk written over its pump's. */
interface Inside {
  inflight: Slot[];
  head: number;
  base: number;
  pipe: number;
  lostCount: number;
  lostDats: { head: Slot | null };
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

/** Counts the sender's reads of its window by index, and its compactions (a copy: amortised). */
function countReads(s: ReliableSender): { reads: number; compactions: number } {
  const c = { reads: 0, compactions: 0 };
  const wrap = (arr: Slot[]): Slot[] =>
    new Proxy(arr, {
      get(t, k, r) {
        if (typeof k === 'string' && k >= '0' && k <= '9') c.reads++;
        return Reflect.get(t, k, r) as unknown;
      },
    });
  let cur = wrap((s as unknown as Inside).inflight);
  Object.defineProperty(s, 'inflight', { get: () => cur, set: (v: Slot[]) => ((c.compactions++, cur = wrap(v))), configurable: true });
  return c;
}

interface RunResult {
  datagrams: number;
  waiting: number;
  delivered: number;
  /** Per ACK, the most window reads beyond those of the DATs it freed and the datagrams it sent. */
  excessList: number;
  excessOldWalk: number;
}

function run(seed: number, initialSeq: number): RunResult {
  const rnd = seededRandom(seed);
  const outA: Buffer[] = [];
  const outB: Buffer[] = [];
  const opts = { initialSeq, adaptive: true, window: 256, rtoMinMs: 50, maxRetries: 1000 };
  const a = new ReliableSender(opts, (d) => outA.push(Buffer.from(d)));
  const b = new ReliableSender(opts, (d) => outB.push(Buffer.from(d)));
  (b as unknown as Inside).resendLost = oldWalk;
  const x = a as unknown as Inside;
  const y = b as unknown as Inside;
  const readsA = countReads(a);
  const readsB = countReads(b);
  let excessList = 0;
  let excessOldWalk = 0;
  const ack = (s: ReliableSender, z: Inside, reads: { reads: number; compactions: number }, out: Buffer[], rec: AckRecord): [boolean, number] => {
    const r0 = reads.reads;
    const c0 = reads.compactions;
    const b0 = z.base;
    const o0 = out.length;
    const r = s.onAck(rec, now);
    return [r, reads.compactions !== c0 ? 0 : reads.reads - r0 - seqDiff(z.base, b0) - (out.length - o0)];
  };
  const wire: { at: number; rec: AckRecord }[] = [];
  let now = 0;
  let blackoutUntil = -1;
  let waiting = 0;
  let compared = 0;
  let shipped = 0;
  const acked = new Set<number>();
  const check = (): void => {
    // Same output so far, and the list is the lost DATs in seq order (plain ifs: expect() per datagram is slow).
    if (outA.length !== outB.length) expect(outA.length).toBe(outB.length);
    for (; compared < outA.length; compared++) {
      if (!(outA[compared] as Buffer).equals(outB[compared] as Buffer)) expect(outA[compared]).toEqual(outB[compared]);
    }
    const listed: number[] = [];
    for (let f = x.lostDats.head; f !== null && listed.length <= x.inflight.length; f = f.next) listed.push(seqDiff(f.seq, x.base));
    const lost: number[] = [];
    for (let i = x.head; i < x.inflight.length; i++) if (x.inflight[i]?.lost === true) lost.push(i - x.head);
    if (listed.join() !== lost.join() || lost.length !== x.lostCount) expect({ listed, count: x.lostCount }).toEqual({ listed: lost, count: lost.length });
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
      const [ra, ea] = ack(a, x, readsA, outA, w.rec);
      const [rb, eb] = ack(b, y, readsB, outB, w.rec);
      if (ra !== rb) expect.unreachable('onAck differs');
      excessList = Math.max(excessList, ea);
      excessOldWalk = Math.max(excessOldWalk, eb);
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
  return { datagrams: outA.length, waiting, delivered: acked.size, excessList, excessOldWalk };
}

describe('ReliableSender: the lost DATs waiting for the window', () => {
  it('are resent from the list exactly as the walk from the oldest resent them', () => {
    let waiting = 0;
    let excessList = 0;
    let excessOldWalk = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const r = run(seed, seed % 2 === 0 ? 0xfffff0 : 7);
      expect(r.delivered).toBeGreaterThan(3000);
      waiting += r.waiting;
      excessList = Math.max(excessList, r.excessList);
      excessOldWalk = Math.max(excessOldWalk, r.excessOldWalk);
    }
    // RTOs left DATs waiting for the window often: the list was exercised, not only the happy path.
    expect(waiting).toBeGreaterThan(500);
    // The work per ACK does not grow with the window: the DAT acknowledged and the one past the
    // freed ones are read, nothing else; the walk from the oldest read up to the whole window.
    expect(excessList).toBeLessThanOrEqual(2);
    expect(excessOldWalk).toBeGreaterThan(50);
  });

  it('lets a waiting DAT acknowledged late leave the list, and keeps RACK losses out of it', () => {
    // 24-bit wrap inside the window. An RTO leaves four DATs waiting (the window lets the oldest
    // go again); the late ACK of a waiting original (a spurious RTO) takes it out of the list.
    const out: Buffer[] = [];
    const s = new ReliableSender({ initialSeq: 0xfffffe, adaptive: true, rtoMinMs: 50 }, (d) => out.push(d));
    const x = s as unknown as Inside;
    const listed = (): number[] => {
      const seqs: number[] = [];
      for (let f = x.lostDats.head; f !== null; f = f.next) seqs.push(f.seq);
      return seqs;
    };
    for (let i = 0; i < 4; i++) s.send(Buffer.from([i]), 0, true);
    const d = s.nextDeadline() as number;
    const before = out.length;
    s.tick(d);
    const resent = out.slice(before).map((b) => parseDatagram(b)).filter(isParsed);
    expect(resent.map((p) => [p.seq, p.flag])).toEqual([[0xfffffe, Flag.RDAT]]);
    expect(listed()).toEqual([0xffffff, 0, 1]);
    s.onAck({ seq: 0, flag: Flag.ACK }, d + 1); // the original of seq 0, late (slow start: one more goes)
    const next = out.slice(before + 1).map((b) => parseDatagram(b)).filter(isParsed);
    expect(next.map((p) => p.seq)).toEqual([0xffffff]);
    expect(listed()).toEqual([1]);
    expect(x.lostCount).toBe(1);
    // A RACK loss is resent at once and never waits: nothing lost is listed with the pipe open.
    const t = new ReliableSender({ initialSeq: 10, adaptive: true, rtoMinMs: 50 }, () => undefined);
    t.seedRtt(20);
    for (let i = 0; i < 8; i++) t.send(Buffer.from([i]), 0, true);
    t.onAck({ seq: 17, flag: Flag.ACK }, 20);
    t.tick(t.nextDeadline() as number); // RACK: 10-16 lost and resent
    expect(t.snapshot().inFlight).toBe(7);
    expect((t as unknown as Inside).lostDats.head).toBeNull();
    expect((t as unknown as Inside).lostCount).toBe(0);
  });
});
