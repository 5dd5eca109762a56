import { describe, expect, it } from 'vitest';
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

  it('adaptive mode: interval from the measured RTT, clamped to [rtoMinMs, retryMaxMs]', () => {
    const { s, out } = sender({ adaptive: true, rtoMinMs: 50, retryMinMs: 1000, retryMaxMs: 8000 });
    // Ten clean samples of 20 ms: SRTT ~20, RTTVAR shrinks, RTO clamps to rtoMinMs.
    for (let i = 0; i < 10; i++) {
      s.send(body(i), i * 100);
      s.onAck({ seq: i, flag: Flag.ACK }, i * 100 + 20);
    }
    s.send(body(99), 2000);
    const n = out.length;
    s.tick(2049);
    expect(out.length).toBe(n);
    s.tick(2050);
    expect(out.length).toBe(n + 1);
    expect(s.nextDeadline()).toBe(2150);
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
