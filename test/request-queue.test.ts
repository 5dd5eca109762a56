// The request queue alone (sans-I/O, a manual clock): FIFO pairing per ver/cmd over the rings
// (wrap-around, growth, shrink), timeouts armed at the end of the turn, pause/resume for a
// migration, the unconfirmed list and the rejection of everything on failAll (issue 9, seventh
// session: the rings replaced an object per request).
import { describe, expect, it } from 'vitest';
import { DiarkisError } from '../src/client/errors';
import { RequestQueue } from '../src/client/request-queue';
import type { Response } from '../src/client/types';
import { ManualClock } from '../src/server/clock';

const turnEnd = (): Promise<void> => new Promise((r) => setImmediate(r));
const body = (s: string): Buffer => Buffer.from(s);

/** Settles into a tagged result, so a test can look at promises without awaiting each. */
function track(p: Promise<Response>): { result: string | undefined } {
  const t: { result: string | undefined } = { result: undefined };
  p.then(
    (r) => (t.result = `ok ${r.status} ${r.payload.toString()}`),
    (e: unknown) => (t.result = e instanceof DiarkisError ? `err ${e.code}` : `not a DiarkisError: ${String(e)}`),
  );
  return t;
}

describe('RequestQueue', () => {
  it('answers each ver/cmd oldest first across wrap-around, growth and shrink', async () => {
    const q = new RequestQueue(new ManualClock());
    const all: Array<{ tag: string; t: { result: string | undefined } }> = [];
    const add = (ver: number, cmd: number, tag: string): void => {
      all.push({ tag: `${ver}/${cmd} ${tag}`, t: track(q.add(ver, cmd, 1000, body(tag))) });
    };
    let n = 0;
    // Rings start at 8 slots: 5 in, 3 answered, 12 more (the ring wraps, then grows), then a
    // burst of 3000 (grows past the shrink threshold) drained to empty, then more.
    for (let i = 0; i < 5; i++) add(2, 1, String(n++));
    for (let i = 0; i < 3; i++) expect(q.answer(2, 1, 1, body(`a${i}`))).toBe(true);
    for (let i = 0; i < 12; i++) {
      add(2, 1, String(n++));
      add(3, 9, String(i));  // another ver/cmd interleaved: its own FIFO
    }
    let answered = 3;
    while (answered < n) expect(q.answer(2, 1, 1, body(`a${answered++}`))).toBe(true);
    for (let i = 0; i < 3000; i++) add(2, 1, String(n++));
    while (answered < n) expect(q.answer(2, 1, 1, body(`a${answered++}`))).toBe(true);
    for (let i = 0; i < 20; i++) add(2, 1, String(n++));
    while (answered < n) expect(q.answer(2, 1, 1, body(`a${answered++}`))).toBe(true);
    for (let i = 0; i < 12; i++) expect(q.answer(3, 9, 4, body(`b${i}`))).toBe(true);
    expect(q.answer(2, 1, 1, body('nobody asked'))).toBe(false);
    expect(q.answer(5, 5, 1, body('unknown'))).toBe(false);
    expect(q.outstanding).toBe(0);
    await turnEnd();
    let next21 = 0;
    let next39 = 0;
    for (const { tag, t } of all) {
      if (tag.startsWith('2/1')) expect(t.result, tag).toBe(`ok 1 a${next21++}`);
      else expect(t.result, tag).toBe(`ok 4 b${next39++}`);
    }
    expect([next21, next39]).toEqual([n, 12]);
  });

  it('a timeout starts at the end of the turn; the timed-out request swallows its late answer', async () => {
    const clock = new ManualClock(1000);
    const q = new RequestQueue(clock);
    const slow = track(q.add(7, 10, 50, body('slow')));
    clock.advance(30);  // the rest of the same turn took 30 ms: the timeout has not started
    const second = track(q.add(7, 10, 5000, body('second')));
    await turnEnd();  // both armed now (t = 1030)
    clock.advance(49);
    await turnEnd();
    expect(slow.result).toBeUndefined();
    clock.advance(1);
    await turnEnd();
    expect(slow.result).toBe('err timeout');
    expect(q.outstanding).toBe(2);  // the timed-out one keeps its place
    expect(q.answer(7, 10, 1, body('late'))).toBe(true);  // swallowed
    expect(q.answer(7, 10, 1, body('for second'))).toBe(true);
    await turnEnd();
    expect(second.result).toBe('ok 1 for second');
    expect(clock.pending).toBe(1);  // the timer left for second's deadline, which no longer matters
    clock.advance(10_000);
    expect(q.outstanding).toBe(0);
  });

  it('the shared timer moves to the earliest deadline and fires for each in turn', async () => {
    const clock = new ManualClock();
    const q = new RequestQueue(clock);
    const long = track(q.add(1, 1, 300, undefined));
    await turnEnd();
    const short = track(q.add(1, 2, 100, undefined));
    const mid = track(q.add(1, 1, 200, undefined));
    await turnEnd();
    clock.advance(100);
    await turnEnd();
    expect([long.result, short.result, mid.result]).toEqual([undefined, 'err timeout', undefined]);
    clock.advance(100);
    await turnEnd();
    expect([long.result, mid.result]).toEqual([undefined, 'err timeout']);
    clock.advance(100);
    await turnEnd();
    expect(long.result).toBe('err timeout');
    expect(clock.pending).toBe(0);
  });

  it('requests held by a migration time out only after resumeTimers, and are not unconfirmed', async () => {
    const clock = new ManualClock();
    const q = new RequestQueue(clock);
    const before = track(q.add(4, 4, 100, body('before')));  // same turn as the pause: unarmed yet
    q.pauseTimers();
    const held = track(q.add(4, 4, 100, body('held')));
    const other = track(q.add(4, 5, 100, body('other-held')));
    await turnEnd();
    expect(q.unconfirmed().map((u) => u.payload.toString())).toEqual(['before']);
    clock.advance(100);
    await turnEnd();
    expect([before.result, held.result, other.result]).toEqual(['err timeout', undefined, undefined]);
    clock.advance(1000);
    await turnEnd();
    expect([held.result, other.result]).toEqual([undefined, undefined]);
    q.resumeTimers();
    clock.advance(99);
    await turnEnd();
    expect([held.result, other.result]).toEqual([undefined, undefined]);
    clock.advance(1);
    await turnEnd();
    expect([held.result, other.result]).toEqual(['err timeout', 'err timeout']);
  });

  it('unconfirmed() lists what was sent and not answered, across ver/cmd, in the order sent', async () => {
    const q = new RequestQueue(new ManualClock());
    for (let i = 0; i < 40; i++) q.add(2, i % 3, 1000, i % 5 === 0 ? undefined : new Uint8Array([i])).catch(() => undefined);
    for (let i = 0; i < 4; i++) q.answer(2, 0, 1, body(''));  // answers 0, 3, 6, 9
    const left = q.unconfirmed();
    const expected = [...Array(40).keys()].filter((i) => !(i % 3 === 0 && i < 12));
    expect(left.map((u) => u.cmd)).toEqual(expected.map((i) => i % 3));
    expect(left.map((u) => (u.payload.length === 0 ? -1 : u.payload[0]))).toEqual(expected.map((i) => (i % 5 === 0 ? -1 : i)));
    expect(left.every((u) => Buffer.isBuffer(u.payload))).toBe(true);
    q.failAll(new DiarkisError('network-error'));
  });

  it('failAll rejects every waiting request once, wrapped rings included, and stops the timer', async () => {
    const clock = new ManualClock();
    const q = new RequestQueue(clock);
    const tracked: Array<{ result: string | undefined }> = [];
    for (let i = 0; i < 6; i++) tracked.push(track(q.add(9, 1, 10_000, undefined)));
    for (let i = 0; i < 4; i++) q.answer(9, 1, 1, body(`a${i}`));
    for (let i = 0; i < 500; i++) tracked.push(track(q.add(9, i % 2, i === 0 ? 10 : 10_000, undefined)));
    await turnEnd();
    clock.advance(10);  // the first of the 500 (cmd 0) times out first
    await turnEnd();
    q.failAll(new DiarkisError('migration-failed', 'gone'));
    expect(q.outstanding).toBe(0);
    expect(clock.pending).toBe(0);
    await turnEnd();
    expect(tracked.slice(0, 4).map((t) => t.result)).toEqual(['ok 1 a0', 'ok 1 a1', 'ok 1 a2', 'ok 1 a3']);
    expect(tracked[6]?.result).toBe('err timeout');
    const rest = [...tracked.slice(4, 6), ...tracked.slice(7)];
    expect(rest.length).toBe(501);
    expect(rest.every((t) => t.result === 'err migration-failed')).toBe(true);
    // The queue works again after failAll (a client is not reused, but the queue must not break).
    const again = track(q.add(9, 1, 100, undefined));
    expect(q.answer(9, 1, 1, body('again'))).toBe(true);
    await turnEnd();
    expect(again.result).toBe('ok 1 again');
  });

  it('the error a request rejects with is the DiarkisError given, details included', async () => {
    const q = new RequestQueue(new ManualClock());
    const p = q.add(1, 2, 100, undefined);
    const err = new DiarkisError('migration-failed', 'moved', { unsent: [], unconfirmed: [] });
    q.failAll(err);
    await expect(p).rejects.toBe(err);
  });
});
