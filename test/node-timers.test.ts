// The UDP node's one timer for every session's deadlines (src/server/node-timers.ts), on a
// ManualClock: order, moving a deadline earlier and later, cancelling, many sessions, a session
// ending inside its own callback or another's, and how many clock timers it takes.
import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock } from '../src/server/clock';
import { NodeTimers, NOT_ARMED, type Timed } from '../src/server/node-timers';
import { seededRandom } from './helpers/udp-proxy';

interface S extends Timed {
  name: string;
}
const mk = (name: string): S => ({ name, timerAt: 0, timerSlot: NOT_ARMED });

/** A ManualClock that counts the timers set on it and those still pending. */
function counting(start = 0): { clock: ManualClock & Clock; set: () => number } {
  const clock = new ManualClock(start);
  let set = 0;
  const inner = clock.setTimer.bind(clock);
  clock.setTimer = (fn, ms) => {
    set++;
    return inner(fn, ms);
  };
  return { clock, set: () => set };
}

function harness(onDue?: (x: S, now: number, t: NodeTimers<S>) => void) {
  const { clock, set } = counting(1000);
  const fired: { name: string; now: number; at: number }[] = [];
  const t: NodeTimers<S> = new NodeTimers<S>(clock, (x, now, at) => {
    fired.push({ name: x.name, now, at });
    onDue?.(x, now, t);
  });
  return { clock, set, fired, t };
}

describe('NodeTimers', () => {
  it('fires sessions in deadline order, each once, at its deadline, with one clock timer at a time', () => {
    const { clock, fired, t } = harness();
    const [a, b, c] = [mk('a'), mk('b'), mk('c')];
    t.arm(b, 1020);
    t.arm(a, 1010);
    t.arm(c, 1030);
    expect(clock.pending).toBe(1);
    clock.advance(9);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ name: 'a', now: 1010, at: 1010 }]);
    clock.advance(30);
    expect(fired.map((f) => [f.name, f.now])).toEqual([
      ['a', 1010],
      ['b', 1020],
      ['c', 1030],
    ]);
    expect(t.size).toBe(0);
    expect(clock.pending).toBe(0);
    expect([a, b, c].every((x) => x.timerSlot === NOT_ARMED)).toBe(true);
  });

  it('sessions due by the time of a late pass fire in it, in order, each with its own deadline', () => {
    const { clock, fired, t } = harness();
    for (const [n, at] of [['x', 1005], ['y', 1001], ['z', 1003]] as const) t.arm(mk(n), at);
    clock.advance(50);
    expect(fired).toEqual([
      { name: 'y', now: 1001, at: 1001 },
      { name: 'z', now: 1003, at: 1003 },
      { name: 'x', now: 1005, at: 1005 },
    ]);
    // A busy process: the clock timer fires late, one pass runs everything due by then, in order.
    const late = new ManualClock(0);
    let busy = 0;
    const seen: [string, number, number][] = [];
    const t2 = new NodeTimers<S>({ now: () => late.now() + busy, setTimer: (fn, ms) => late.setTimer(fn, ms) }, (x, now, at) => seen.push([x.name, now, at]));
    t2.arm(mk('p'), 45);
    t2.arm(mk('q'), 41);
    t2.arm(mk('r'), 200);
    busy = 40;
    late.advance(41);
    expect(seen).toEqual([
      ['q', 81, 41],
      ['p', 81, 45],
    ]);
    expect(t2.size).toBe(1);
  });

  it('moves a deadline earlier (the clock timer follows) and later (the early wake-up re-arms)', () => {
    const { clock, set, fired, t } = harness();
    const a = mk('a');
    const b = mk('b');
    t.arm(a, 1100);
    t.arm(b, 1200);
    expect(set()).toBe(1);
    t.arm(b, 1050);
    expect(set()).toBe(2);
    expect(clock.pending).toBe(1);
    clock.advance(50);
    expect(fired.map((f) => [f.name, f.now])).toEqual([['b', 1050]]);
    // a later: the timer armed for 1100 wakes up, finds nothing due, re-arms for 1300.
    t.arm(a, 1300);
    const before = set();
    clock.advance(50);
    expect(fired.length).toBe(1);
    expect(set()).toBe(before + 1);
    clock.advance(200);
    expect(fired.map((f) => [f.name, f.now])).toEqual([
      ['b', 1050],
      ['a', 1300],
    ]);
  });

  it('re-arming for the same whole millisecond or later takes no new clock timer', () => {
    const { set, t } = harness();
    const xs = Array.from({ length: 100 }, (_, i) => mk(`s${i}`));
    t.arm(xs[0] as S, 1010);
    for (const x of xs.slice(1)) t.arm(x, 1010 + Math.random() * 100);
    // A deadline inside the armed millisecond: the timer fires for it anyway.
    t.arm(xs[1] as S, 1009.5);
    expect(set()).toBe(1);
  });

  it('cancel takes a session out wherever it is in the heap; cancelling twice is harmless', () => {
    const { clock, fired, t } = harness();
    const xs = Array.from({ length: 20 }, (_, i) => mk(`s${i}`));
    xs.forEach((x, i) => t.arm(x, 1001 + ((i * 7) % 20)));
    for (const i of [0, 5, 19, 3]) {
      t.cancel(xs[i] as S);
      t.cancel(xs[i] as S);
    }
    expect(t.size).toBe(16);
    clock.advance(100);
    const names = new Set(fired.map((f) => f.name));
    expect(names.size).toBe(16);
    for (const i of [0, 5, 19, 3]) expect(names.has(`s${i}`)).toBe(false);
    const ats = fired.map((f) => f.at);
    expect(ats).toEqual([...ats].sort((p, q) => p - q));
  });

  it('a session re-arming inside its callback fires again at its new deadline, not in the same pass', () => {
    let n = 0;
    const { clock, set, fired, t } = harness((x, now, tt) => {
      if (++n < 3) tt.arm(x, now); // due at once again: waits for the next pass
    });
    t.arm(mk('a'), 1001);
    const before = set();
    clock.advance(1);
    // Three passes (ManualClock runs a zero-delay timer within the same advance), one clock timer each.
    expect(fired.map((f) => f.now)).toEqual([1001, 1001, 1001]);
    expect(set() - before).toBe(2);
    expect(t.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('a session ending inside its own callback, or ending another due in the same pass, is not fired again', () => {
    const a = mk('a');
    const b = mk('b');
    const c = mk('c');
    const { clock, fired, t } = harness((x, _now, tt) => {
      if (x === a) {
        tt.cancel(a); // its own end: already out of the heap, harmless
        tt.cancel(b); // b is due in this pass: skipped
        tt.arm(c, 5000); // c is due in this pass: moved, so skipped now
      }
    });
    t.arm(a, 1001);
    t.arm(b, 1002);
    t.arm(c, 1003);
    clock.advance(10);
    expect(fired.map((f) => f.name)).toEqual(['a']);
    expect(b.timerSlot).toBe(NOT_ARMED);
    expect(t.size).toBe(1);
    clock.advance(4000);
    expect(fired.map((f) => f.name)).toEqual(['a', 'c']);
  });

  it('a callback that throws leaves the timers consistent (the rest of the pass waits for the next)', () => {
    const { clock, fired, t } = harness((x) => {
      if (x.name === 'a') throw new Error('boom');
    });
    t.arm(mk('a'), 1001);
    t.arm(mk('b'), 1001);
    expect(() => clock.advance(5)).toThrow('boom');
    expect(fired.map((f) => f.name)).toEqual(['a']);
    // b was due in the pass that threw: it is no longer armed, and the timers still work.
    const d = mk('d');
    t.arm(d, 1010);
    clock.advance(10);
    expect(fired.map((f) => f.name)).toEqual(['a', 'd']);
  });

  it('clear() drops every session and the clock timer', () => {
    const { clock, fired, t } = harness();
    const xs = Array.from({ length: 10 }, (_, i) => mk(`s${i}`));
    xs.forEach((x, i) => t.arm(x, 1001 + i));
    t.clear();
    expect(t.size).toBe(0);
    expect(clock.pending).toBe(0);
    expect(xs.every((x) => x.timerSlot === NOT_ARMED)).toBe(true);
    clock.advance(100);
    expect(fired).toEqual([]);
  });

  it('many sessions with random arms, moves and cancels fire exactly as a sorted list says', () => {
    const rnd = seededRandom(7);
    const { clock, set, fired, t } = harness();
    const n = 5000;
    const xs = Array.from({ length: n }, (_, i) => mk(`s${i}`));
    const want = new Map<S, number>();
    for (let step = 0; step < 40_000; step++) {
      const x = xs[Math.floor(rnd() * n)] as S;
      if (rnd() < 0.15) {
        t.cancel(x);
        want.delete(x);
      } else {
        const at = clock.now() + 1 + Math.floor(rnd() * 500);
        t.arm(x, at);
        want.set(x, at);
      }
      if (step % 1000 === 999) {
        // Everything due by then fires, in deadline order, and nothing else.
        const until = clock.now() + 50;
        const due = [...want].filter(([, at]) => at <= until).sort((p, q) => p[1] - q[1]);
        const from = fired.length;
        clock.advance(50);
        const got = fired.slice(from);
        expect(got.map((f) => f.at)).toEqual(due.map(([, at]) => at));
        expect(new Set(got.map((f) => f.name))).toEqual(new Set(due.map(([x2]) => x2.name)));
        for (const [x2] of due) want.delete(x2);
        expect(t.size).toBe(want.size);
      }
    }
    // One clock timer pending at most, and far fewer set than arms made.
    expect(clock.pending).toBeLessThanOrEqual(1);
    expect(set()).toBeLessThan(2000);
  });
});
