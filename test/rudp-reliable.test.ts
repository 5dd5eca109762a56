import { describe, expect, it } from 'vitest';
import { RUDP_PEER_MAX_ACK_DELAY_MS } from '../src/protocol/ours';
import { Datagram, Flag, isParsed, parseDatagram, ReliableReceiver, ReliableSender, SenderOptions } from '../src/protocol/rudp';

function sender(opts: Partial<SenderOptions> = {}): { s: ReliableSender; out: Datagram[] } {
  const out: Datagram[] = [];
  const s = new ReliableSender({ initialSeq: 0, ...opts }, (d) => {
    const p = parseDatagram(d);
    if (isParsed(p)) out.push(p);
  });
  return { s, out };
}

const body = (n: number): Buffer => Buffer.from([n & 0xff]);

describe('ReliableSender', () => {
  it('sends DATs with consecutive sequences from the initial one, wrapping at 2^24', () => {
    const { s, out } = sender({ initialSeq: 0xfffffe });
    for (let i = 0; i < 3; i++) s.send(body(i), 0);
    expect(out.map((d) => [d.seq, d.flag])).toEqual([
      [0xfffffe, Flag.DAT],
      [0xffffff, Flag.DAT],
      [0, Flag.DAT],
    ]);
  });

  it('keeps at most the window in flight and queues the rest locally', () => {
    const { s, out } = sender({ window: 4 });
    for (let i = 0; i < 10; i++) s.send(body(i), 0);
    expect(out.length).toBe(4);
    expect(s.snapshot()).toMatchObject({ inFlight: 4, queued: 6 });
    s.onAck({ seq: 1, flag: Flag.ACK }, 5);
    expect(out.length).toBe(5);
    expect(out[4].seq).toBe(4);
  });

  it('refuses past the local queue bound', () => {
    const { s } = sender({ window: 1, maxQueueBytes: 2 });
    expect(s.send(body(0), 0)).toBe(true);
    expect(s.send(body(1), 0)).toBe(true);
    expect(s.send(body(2), 0)).toBe(true);
    expect(s.send(body(3), 0)).toBe(false);
  });

  it('resends as RDAT from retryMinMs, doubling up to retryMaxMs, then times out after maxRetries', () => {
    const { s, out } = sender({ retryMinMs: 100, retryMaxMs: 400, maxRetries: 4 });
    s.send(body(1), 0);
    const resendTimes: number[] = [];
    for (let now = 0; now <= 5000 && !s.isTimedOut; now += 10) {
      const before = out.length;
      s.tick(now);
      if (out.length > before) resendTimes.push(now);
    }
    // 100, +200, +400, +400 (capped); the 5th deadline without an ack is the timeout.
    expect(resendTimes).toEqual([100, 300, 700, 1100]);
    expect(out.slice(1).every((d) => d.flag === Flag.RDAT && d.seq === 0)).toBe(true);
    expect(s.isTimedOut).toBe(true);
    expect(s.send(body(2), 2000)).toBe(false);
  });

  it('stops resending once acknowledged (ACK or RACK)', () => {
    const { s, out } = sender({ retryMinMs: 100 });
    s.send(body(1), 0);
    s.send(body(2), 0);
    s.tick(100);
    expect(out.length).toBe(4);
    s.onAck({ seq: 0, flag: Flag.RACK }, 120);
    s.onAck({ seq: 1, flag: Flag.ACK }, 120);
    expect(s.idle).toBe(true);
    expect(s.nextDeadline()).toBeNull();
    s.tick(10_000);
    expect(out.length).toBe(4);
  });

  it('sends the first DAT as DAT and RDAT and clears it only with RACK when asked to', () => {
    const { s, out } = sender({ initialSeq: 777, firstNeedsRack: true });
    s.send(body(1), 0);
    s.send(body(2), 0);
    expect(out.map((d) => [d.seq, d.flag])).toEqual([
      [777, Flag.DAT],
      [777, Flag.RDAT],
      [778, Flag.DAT],
    ]);
    expect(s.onAck({ seq: 777, flag: Flag.ACK }, 1)).toBe(false);
    expect(s.onAck({ seq: 778, flag: Flag.ACK }, 1)).toBe(true);
    expect(s.onAck({ seq: 777, flag: Flag.RACK }, 1)).toBe(true);
    expect(s.idle).toBe(true);
  });

  it('adaptive: RFC 6298 RTO from the handshake seed, a tail-loss probe first, then the backed-off RTO', () => {
    const { s, out } = sender({ adaptive: true });
    s.seedRtt(50); // RTO 50 + 4 * 25 = 150, probe after 2 * 50 + the peer's max ACK delay
    const probe = 2 * 50 + RUDP_PEER_MAX_ACK_DELAY_MS;
    for (let i = 0; i < 3; i++) s.send(body(i), 0);
    expect(s.nextDeadline()).toBe(probe);
    s.tick(probe);
    expect(out.slice(3).map((d) => [d.seq, d.flag])).toEqual([[2, Flag.RDAT]]); // the newest
    expect(s.nextDeadline()).toBe(probe + 150);
    // The probe's RACK reveals 0 and 1 as lost (sent before it, a reorder window ago).
    s.onAck({ seq: 2, flag: Flag.RACK }, 160);
    expect(out.slice(4).map((d) => [d.seq, d.flag])).toEqual([
      [0, Flag.RDAT],
      [1, Flag.RDAT],
    ]);
  });

  it('adaptive: fast retransmit from later ACKs by time, once per RTT, long before any RTO', () => {
    const { s, out } = sender({ adaptive: true });
    s.seedRtt(50);
    for (let i = 0; i < 6; i++) s.send(body(i), 0);
    for (let q = 2; q < 6; q++) s.onAck({ seq: q, flag: Flag.ACK }, 50);
    expect(out.length).toBe(6);
    expect(s.nextDeadline()).toBe(62.5); // + min RTT / 4
    s.tick(62.5);
    expect(out.slice(6).map((d) => [d.seq, d.flag])).toEqual([
      [0, Flag.RDAT],
      [1, Flag.RDAT],
    ]);
    expect(s.nextDeadline()).toBeGreaterThanOrEqual(112.5);
    expect(s.onAck({ seq: 5, flag: Flag.ACK }, 70)).toBe(false);
    expect(out.length).toBe(8);
  });

  it('adaptive: in a burst sent at once only lower seqs count as sent before the acknowledged DAT', () => {
    const { s, out } = sender({ adaptive: true });
    s.seedRtt(50);
    for (let i = 0; i < 6; i++) s.send(body(i), 0);
    s.onAck({ seq: 2, flag: Flag.ACK }, 50);
    s.tick(62.5);
    expect(out.filter((d) => d.flag === Flag.RDAT).map((d) => d.seq)).toEqual([0, 1]); // not 3, 4, 5
  });

  it('adaptive: reordering seen in the ACKs widens the reorder window', () => {
    const { s, out } = sender({ adaptive: true });
    s.seedRtt(20); // min RTT 20: window 5
    for (let i = 0; i < 2; i++) s.send(body(i), 0);
    s.onAck({ seq: 1, flag: Flag.ACK }, 20);
    s.onAck({ seq: 0, flag: Flag.ACK }, 35); // 15 ms behind a DAT sent after it
    for (let i = 0; i < 4; i++) s.send(body(i), 40); // seqs 2..5
    s.onAck({ seq: 5, flag: Flag.ACK }, 60);
    expect(s.nextDeadline()).toBe(40 + 20 + 15);
    s.tick(74);
    expect(out.filter((d) => d.flag === Flag.RDAT)).toEqual([]);
    s.tick(75);
    expect(out.filter((d) => d.flag === Flag.RDAT).map((d) => d.seq)).toEqual([2, 3, 4]);
  });

  it('adaptive: losses that prove spurious undo the window reduction; a real one keeps it', () => {
    for (const realLoss of [false, true]) {
      const { s, out } = sender({ adaptive: true });
      s.seedRtt(50);
      for (let i = 0; i < 20; i++) s.send(body(i), 0);
      s.onAck({ seq: 19, flag: Flag.ACK }, 50); // cwnd 65
      s.tick(62.5); // 0..18 declared lost: over half, an overrun: halved
      expect(out.filter((d) => d.flag === Flag.RDAT).length).toBe(19);
      expect(s.snapshot().cwnd).toBe(32.5);
      for (let q = 0; q < 18; q++) s.onAck({ seq: q, flag: Flag.ACK }, 70); // the originals, late
      s.onAck({ seq: 18, flag: realLoss ? Flag.RACK : Flag.ACK }, realLoss ? 120 : 70);
      expect(s.snapshot().cwnd).toBe(realLoss ? 32.5 : 66);
      expect(s.idle).toBe(true);
    }
  });

  it('adaptive: a congestion window of 64 DATs at first, growing in slow start; random loss leaves it', () => {
    const { s, out } = sender({ adaptive: true });
    s.seedRtt(50);
    for (let i = 0; i < 250; i++) s.send(body(i), 0);
    expect(out.length).toBe(64);
    for (let q = 0; q < 64; q++) s.onAck({ seq: q, flag: Flag.ACK }, 50);
    expect(s.snapshot().cwnd).toBe(128);
    expect(out.length).toBe(192);
    for (let q = 66; q < 192; q++) s.onAck({ seq: q, flag: Flag.ACK }, 100);
    const before = s.snapshot().cwnd;
    s.tick(s.nextDeadline() ?? Infinity);
    expect(out.filter((d) => d.flag === Flag.RDAT).map((d) => d.seq)).toEqual([64, 65]);
    expect(s.snapshot().cwnd).toBe(before);
  });

  it('adaptive: a peer that acknowledges is never timed out; a silent one is after maxRetries RTOs', () => {
    const live = sender({ adaptive: true });
    live.s.seedRtt(50);
    live.s.send(body(0), 0);
    let now = 0;
    let resends = 0;
    for (let q = 1; q < 400 && resends < 30; q++) {
      now += 100;
      live.s.tick(now);
      live.s.send(body(q), now);
      live.s.onAck({ seq: q, flag: Flag.ACK }, now + 50);
      resends = live.out.filter((d) => d.seq === 0 && d.flag === Flag.RDAT).length;
    }
    expect(live.s.isTimedOut).toBe(false);
    expect(resends).toBe(30);
    const dead = sender({ adaptive: true });
    dead.s.seedRtt(50);
    dead.s.send(body(0), 0);
    let timers = 0;
    while (!dead.s.isTimedOut && timers < 100) {
      dead.s.tick(dead.s.nextDeadline() ?? Infinity);
      timers++;
    }
    expect(timers).toBe(11); // a lone DAT: no probe before the RTO; 10 RTOs backing off, then the verdict
  });

  it('adaptive: a peer answering after a 500 ms stall gets bounded resends (the original\'s late ACK is sampled)', () => {
    // Quick round trips teach a 100 ms RTO; then every answer comes 500 ms after the DAT (a busy
    // process reads its socket late and answers every copy at once). Before the fix: two spurious
    // resends per exchange, forever (80 here).
    const { s, out } = sender({ adaptive: true });
    let now = 0;
    let seq = 0;
    for (let i = 0; i < 10; i++, seq++, now += 100) {
      s.send(body(seq), now);
      s.onAck({ seq, flag: Flag.ACK }, now + 10);
    }
    const sent0 = out.length;
    for (let i = 0; i < 40; i++, seq++, now += 2000) {
      s.send(body(seq), now);
      for (let d = s.nextDeadline(); d !== null && d < now + 500; d = s.nextDeadline()) s.tick(d);
      s.onAck({ seq, flag: Flag.ACK }, now + 500);
      s.onAck({ seq, flag: Flag.RACK }, now + 500); // duplicate: ignored
      expect(s.inFlight).toBe(0);
    }
    const resends = out.slice(sent0).filter((d) => d.flag === Flag.RDAT).length;
    expect(resends).toBeLessThanOrEqual(4); // the first stalls only (two RTOs, then a probe while SRTT climbs)
    expect(s.snapshot().srtt).toBeGreaterThan(300);
    expect(s.isTimedOut).toBe(false);
  });

  it('adaptive: the backed-off RTO stays until a valid RTT sample; a RACK of a DAT resent twice is none', () => {
    const { s, out } = sender({ adaptive: true });
    s.send(body(0), 0);
    expect(s.nextDeadline()).toBe(1000);
    s.tick(1000);
    s.tick(3000);
    expect(out.filter((d) => d.flag === Flag.RDAT).length).toBe(2);
    s.onAck({ seq: 0, flag: Flag.RACK }, 3050); // which RDAT? no sample
    s.send(body(1), 3050);
    expect(s.nextDeadline()).toBe(7050); // still backed off: 4 x 1000
    s.tick(7050);
    s.onAck({ seq: 1, flag: Flag.RACK }, 7080); // the only RDAT: exact, 30 ms
    expect(s.snapshot().srtt).toBe(30);
    s.send(body(2), 7080);
    expect(s.nextDeadline()).toBe(7180); // the sample ended the backoff: RTO at its 100 ms floor
  });

  it('adaptive: an RTO resends only the oldest DAT, then slow start reopens the window', () => {
    const { s, out } = sender({ adaptive: true });
    s.seedRtt(50);
    for (let i = 0; i < 20; i++) s.send(body(i), 0);
    s.tick(2 * 50 + RUDP_PEER_MAX_ACK_DELAY_MS); // the probe
    const rto = s.nextDeadline() ?? Infinity;
    const n = out.length;
    s.tick(rto);
    expect(out.slice(n).map((d) => [d.seq, d.flag])).toEqual([[0, Flag.RDAT]]);
    expect(s.snapshot().cwnd).toBe(1);
    s.send(body(20), rto); // waits too
    expect(out.length).toBe(n + 1);
    s.onAck({ seq: 0, flag: Flag.RACK }, rto + 50);
    expect(out.slice(n + 1).map((d) => d.seq)).toEqual([1, 2]);
  });

  it('packs small bodies into one DAT up to the datagram size when asked; partial ones wait for flush()', () => {
    const { s, out } = sender({ pack: true, adaptive: true });
    for (let i = 0; i < 41; i++) s.send(Buffer.alloc(100, i), 0);
    expect(out.map((d) => d.body.length)).toEqual([1400, 1400]);
    expect(s.hasUnflushed).toBe(true);
    s.flush(0);
    expect(out.map((d) => d.body.length)).toEqual([1400, 1400, 1300]);
    s.send(Buffer.alloc(10), 1, true);
    s.send(Buffer.alloc(10), 1);
    s.flush(1);
    expect(out.slice(3).map((d) => d.body.length)).toEqual([10, 10]); // a solo body goes alone
  });

  it('keeps the span from the oldest unacknowledged DAT under the peer receive window', () => {
    const { s, out } = sender({ peerWindow: 8, adaptive: true });
    for (let i = 0; i < 20; i++) s.send(body(i), 0);
    expect(out.length).toBe(8);
    for (let q = 1; q < 8; q++) s.onAck({ seq: q, flag: Flag.ACK }, 10);
    expect(out.length).toBe(8);
    s.onAck({ seq: 0, flag: Flag.ACK }, 11);
    expect(out.length).toBe(16);
  });
});

describe('ReliableReceiver', () => {
  it('acks DAT with ACK and RDAT with RACK, duplicates too, and delivers exactly once in order', () => {
    const r = new ReliableReceiver(10);
    expect(r.onData(11, Flag.DAT, body(11))).toEqual({ ack: { seq: 11, flag: Flag.ACK }, delivered: [] });
    expect(r.onData(11, Flag.RDAT, body(11))).toMatchObject({ ack: { seq: 11, flag: Flag.RACK }, drop: 'duplicate' });
    const a = r.onData(10, Flag.RDAT, body(10));
    expect(a.ack).toEqual({ seq: 10, flag: Flag.RACK });
    expect(a.delivered.map((b) => b[0])).toEqual([10, 11]);
    const dup = r.onData(10, Flag.DAT, body(10));
    expect(dup).toMatchObject({ ack: { seq: 10, flag: Flag.ACK }, delivered: [], drop: 'duplicate' });
    expect(r.drops.duplicate).toBe(2);
    expect(r.nextExpected).toBe(12);
  });

  it('bounds the out-of-order buffer and does not ack what it cannot hold', () => {
    const r = new ReliableReceiver(0, 4);
    expect(r.onData(3, Flag.DAT, body(3)).ack).not.toBeNull();
    const far = r.onData(4, Flag.DAT, body(4));
    expect(far).toEqual({ ack: null, delivered: [], drop: 'out-of-window' });
    expect(r.bufferedCount).toBe(1);
    expect(r.drops['out-of-window']).toBe(1);
  });

  it('delivers across the 2^24 wrap', () => {
    const r = new ReliableReceiver(0xffffff);
    expect(r.onData(0, Flag.DAT, body(1)).delivered).toEqual([]);
    expect(r.onData(0xffffff, Flag.DAT, body(0)).delivered.map((b) => b[0])).toEqual([0, 1]);
    expect(r.nextExpected).toBe(1);
  });

  it('copies bodies it buffers (the datagram buffer may be reused)', () => {
    const r = new ReliableReceiver(0);
    const b = Buffer.from([5]);
    r.onData(1, Flag.DAT, b);
    b[0] = 99;
    expect(r.onData(0, Flag.DAT, Buffer.from([4])).delivered.map((x) => x[0])).toEqual([4, 5]);
  });
});
