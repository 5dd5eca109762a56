/**
 * RACK's loss scan walks a send-time list and stops early (reliable.ts); this checks, under random
 * loss, reordering, probes and RTOs with a fake clock, that it leaves exactly what the plain scan of
 * the whole window (RFC 8985 as written) would: after every ACK and timer, no outstanding DAT sent
 * before the latest acknowledged one is past its reorder deadline, and the RACK timer is the
 * earliest such deadline.
 */
import { describe, expect, it } from 'vitest';
import { AckRecord, Flag, isParsed, parseDatagram, ReliableSender, seqAdd, seqDiff } from '../src/protocol/rudp';
import { seededRandom } from './helpers/udp-proxy';

interface Slot {
  lastSent: number;
  acked: boolean;
  lost: boolean;
}
/** The sender's private state, read as the plain scan needs it. */
interface Inside {
  inflight: Slot[];
  head: number;
  base: number;
  rackXmit: number;
  rackSeq: number;
  rackRtt: number;
  rackAt: number;
  reorderWindow(): number;
}

/** The whole-window scan: what it would still declare lost now, and its RACK deadline. */
function plainScan(x: Inside, now: number): { overdue: number; rackAt: number } {
  let overdue = 0;
  let rackAt = Number.POSITIVE_INFINITY;
  if (x.rackXmit === Number.NEGATIVE_INFINITY) return { overdue, rackAt };
  const reo = x.reorderWindow();
  for (let i = x.head; i < x.inflight.length; i++) {
    const f = x.inflight[i];
    const seq = seqAdd(x.base, i - x.head);
    const after = f.lastSent > x.rackXmit || (f.lastSent === x.rackXmit && seqDiff(seq, x.rackSeq) > 0);
    if (f.acked || f.lost || after) continue;
    const due = f.lastSent + x.rackRtt + reo;
    if (now >= due) overdue++;
    else rackAt = Math.min(rackAt, due);
  }
  return { overdue, rackAt };
}

function run(seed: number, initialSeq: number): { resends: number; delivered: number } {
  const rnd = seededRandom(seed);
  const wire: { at: number; seq: number; flag: Flag }[] = [];
  let now = 0;
  const s = new ReliableSender({ initialSeq, adaptive: true, window: 256, rtoMinMs: 50 }, (d) => {
    const p = parseDatagram(d);
    if (!isParsed(p)) return;
    // Lost 15 %, delayed 5-35 ms (so reordered), the ACK record comes back as the peer sends it.
    if (rnd() < 0.15) return;
    wire.push({ at: now + 5 + rnd() * 30 + 5 + rnd() * 30, seq: p.seq, flag: p.flag === Flag.DAT ? Flag.ACK : Flag.RACK });
  });
  const x = s as unknown as Inside;
  let checks = 0;
  // Right after a scan ran (an ACK that acknowledged something new, or the RACK timer); an RTO
  // marks everything lost and leaves the timer armed, in both scans, so the deadline is compared
  // only after an ACK.
  const check = (afterAck: boolean): void => {
    const r = plainScan(x, now);
    expect(r.overdue).toBe(0);
    if (afterAck) expect(x.rackAt).toBe(r.rackAt);
    checks++;
  };
  let sent = 0;
  const acked = new Set<number>();
  for (let step = 0; step < 4000 && !s.isTimedOut; step++) {
    now += rnd() < 0.3 ? 0 : rnd() * 4;
    if (sent < 3000 && rnd() < 0.5) {
      // Bursts at one instant too: same send time, RACK ties broken by seq.
      const n = 1 + Math.floor(rnd() * 8);
      for (let i = 0; i < n; i++) s.send(Buffer.from([sent++ & 0xff]), now);
    }
    wire.sort((a, b) => a.at - b.at);
    while (wire.length > 0 && wire[0].at <= now) {
      const w = wire.shift() as (typeof wire)[number];
      // Several records of one ACK datagram at one instant, each applied on its own.
      const rec: AckRecord = { seq: w.seq, flag: w.flag };
      if (s.onAck(rec, now)) check(true);
      acked.add(w.seq);
    }
    const d = s.nextDeadline();
    if (d !== null && d <= now) {
      const scans = x.rackAt <= now;
      s.tick(now);
      if (scans) check(false);
    }
  }
  expect(checks).toBeGreaterThan(500);
  return { resends: s.stats.retransmits, delivered: acked.size };
}

describe('ReliableSender RACK scan (send-time list)', () => {
  it('leaves nothing a whole-window scan would declare lost, and the same RACK deadline, under random loss', () => {
    let resends = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = run(seed, seed % 2 === 0 ? 0xffff00 : 7);
      expect(r.delivered).toBeGreaterThan(1000);
      resends += r.resends;
    }
    // The runs did exercise loss recovery (RACK, probes, RTOs), not only the happy path.
    expect(resends).toBeGreaterThan(500);
  });
});
