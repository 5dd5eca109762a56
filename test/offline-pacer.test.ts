// Issue 12: the OFFLINE node's notice pacing (src/server/offline-pacer.ts), on a ManualClock:
// the window, slots freed by leaving or by their time cap, the deadline, late sessions, stop.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/server/clock';
import { DEFAULT_PACING_DRAIN_MS, DEFAULT_PACING_QUEUE_MS, DEFAULT_PACING_SLOT_MS, DEFAULT_PACING_WINDOW, OfflinePacer, pacingSettings } from '../src/server/offline-pacer';

/** queueMs 0: a fixed window, for the slots' mechanics. */
function pacer(window: number, slotMs: number, connected = (_sid: string): boolean => true, drainMs = 1e9, queueMs = 0): { p: OfflinePacer; clock: ManualClock; sent: string[] } {
  const clock = new ManualClock(1000);
  const sent: string[] = [];
  const p = new OfflinePacer({ window, slotMs, queueMs, drainMs }, { clock, notify: (sid) => connected(sid) && sent.push(sid) > 0 });
  return { p, clock, sent };
}
const sids = (n: number): string[] => Array.from({ length: n }, (_, i) => `s${i}`);

describe('offline-notice pacing', () => {
  it('notifies a window at a time, the next as sessions leave, in order', () => {
    const { p, sent } = pacer(3, 250);
    p.start(sids(8), 5000);
    expect(sent).toEqual(['s0', 's1', 's2']);
    expect([p.outstanding, p.queued]).toEqual([3, 5]);
    p.done('s1');
    expect(sent).toEqual(['s0', 's1', 's2', 's3']);
    // A queued session that leaves before its turn is never notified and takes no slot.
    p.done('s5');
    p.done('s0');
    p.done('s2');
    expect(sent).toEqual(['s0', 's1', 's2', 's3', 's4', 's6']);
    p.done('s1'); // already left: nothing changes
    expect(p.outstanding).toBe(3);
  });

  it('frees a slot after its time cap when the session never moves', () => {
    const { p, clock, sent } = pacer(2, 250);
    p.start(sids(5), 5000);
    clock.advance(100);
    p.done('s0'); // s2 takes a slot at t+100
    expect(sent).toEqual(['s0', 's1', 's2']);
    clock.advance(149);
    expect(sent.length).toBe(3);
    clock.advance(1); // s1's slot (taken at t) runs out
    expect(sent).toEqual(['s0', 's1', 's2', 's3']);
    clock.advance(100); // s2's (taken at t+100)
    expect(sent).toEqual(['s0', 's1', 's2', 's3', 's4']);
    clock.advance(250);
    expect([p.outstanding, p.queued]).toEqual([0, 0]);
    expect(clock.pending).toBe(1); // only the deadline
  });

  it('grows the window by one per move that queued at most queueMs over the fastest, shrinks it by one per slower one, down to its floor', () => {
    const { p, clock, sent } = pacer(2, 10_000, () => true, 1e9, 100);
    p.start(sids(40), 60_000);
    expect(sent).toEqual(['s0', 's1']);
    clock.advance(50);
    p.done('s0'); // the fastest so far (50 ms): 3
    expect([p.window, p.outstanding]).toEqual([3, 3]);
    p.done('s1'); // 50 ms: 4
    expect([p.window, p.outstanding]).toEqual([4, 4]);
    clock.advance(140);
    p.done('s2'); // 140 ms, 90 over the fastest (< 100): 5
    expect([p.window, p.outstanding]).toEqual([5, 5]);
    clock.advance(20);
    p.done('s3'); // 160 ms: queued 110 >= 100: 4
    p.done('s4'); // 4 ... and 3
    expect([p.window, p.outstanding]).toEqual([3, 3]);
    clock.advance(500);
    for (const sid of sent.slice(5, 8)) p.done(sid); // slow: back to the floor, not below
    expect([p.window, p.outstanding]).toEqual([2, 2]);
  });

  it('a slot that runs out frees its place but measures no move', () => {
    const { p, clock } = pacer(2, 100, () => true, 1e9, 100);
    p.start(sids(40), 60_000);
    clock.advance(100); // both slots out, nothing measured: the floor's 2 go next
    expect([p.window, p.outstanding, p.queued]).toEqual([2, 2, 36]);
  });

  it('keeps to the drain schedule when every move is slow, and tells the rest drainMs after OFFLINE', () => {
    const { p, clock, sent } = pacer(2, 10_000, () => true, 3000, 100);
    p.start(sids(40), 60_000);
    // No move completes: the oldest one's age stands for the mean, looked at every 50 ms; at 150 ms
    // ceil(38 x 150 / 2850) = 2, at 200 ms ceil(38 x 200 / 2800) = 3.
    clock.advance(150);
    expect(sent.length).toBe(2);
    clock.advance(50);
    expect(sent.length).toBe(3);
    clock.advance(1300); // half way: ceil(q x 1500 / 1500) = q in flight, as many as still queued
    expect([p.outstanding, p.queued]).toEqual([20, 20]);
    clock.advance(1500); // the rest by the deadline
    expect(sent).toEqual(sids(40));
    expect(p.queued).toBe(0);
  });

  it('tells everyone still queued drainMs after OFFLINE, before allByMs', () => {
    const { p, clock, sent } = pacer(2, 10_000, () => true, 3000, 100);
    p.start(sids(40), 60_000);
    clock.advance(10);
    for (const sid of sent.slice()) p.done(sid); // measured: 10 ms moves, and nothing completes after
    const before = sent.length;
    clock.advance(2989);
    expect(p.queued).toBeGreaterThan(0);
    expect(sent.length).toBeGreaterThan(before);
    clock.advance(1);
    expect(sent).toEqual(sids(40));
    expect(p.queued).toBe(0);
  });

  /**
   * A fake cluster on the ManualClock: a move told while `k` others are in flight completes
   * `moveMs(k + 1)` later. Returns the most in flight at once, the slowest move and when the last
   * notice went out (ms after OFFLINE).
   */
  function simulate(settings: Parameters<typeof pacingSettings>[0], n: number, moveMs: (inFlight: number) => number, runMs: number): { maxInFlight: number; slowestMs: number; lastNoticeMs: number; told: number } {
    const clock = new ManualClock(0);
    let inFlight = 0;
    let maxInFlight = 0;
    let slowestMs = 0;
    let lastNoticeMs = Number.NaN;
    let told = 0;
    const p: OfflinePacer = new OfflinePacer(pacingSettings(settings) ?? expect.fail('pacing off'), {
      clock,
      notify: (sid) => {
        const ms = moveMs(++inFlight);
        maxInFlight = Math.max(maxInFlight, inFlight);
        slowestMs = Math.max(slowestMs, ms);
        lastNoticeMs = clock.now();
        told++;
        clock.setTimer(() => {
          inFlight--;
          p.done(sid);
        }, ms);
        return true;
      },
    });
    p.start(sids(n), 60_000);
    clock.advance(runMs);
    return { maxInFlight, slowestMs, lastNoticeMs, told };
  }

  it('defaults, moves that slow with the window: the delay-based window throttles them, and drains before drainMs', () => {
    // 2 ms of service per move in flight over a 20 ms base: queueMs (100) over the fastest is ~50 in flight.
    const r = simulate(undefined, 400, (k) => 20 + 2 * k, 5000);
    expect(r.told).toBe(400);
    // The knee: 22 ms for the fastest, so moves under 122 ms, 50 in flight. The window moves by one
    // per completed move (it doubles per round trip, like slow start), so it overshoots the knee up
    // to about 2x before the slow moves bring it down: never a storm (unpaced, all 400 in flight:
    // moves of 820 ms). The window drains well before the drain schedule has to open it.
    expect(r.maxInFlight).toBeLessThanOrEqual(2 * 51 + 4);
    expect(r.slowestMs).toBeLessThanOrEqual(20 + 2 * (2 * 51 + 4));
    expect(r.lastNoticeMs).toBeLessThan(DEFAULT_PACING_DRAIN_MS);
  });

  it('still throttles when moves slow because of the window, where the drain schedule leaves room (a long drainMs)', () => {
    const r = simulate({ window: 4, drainMs: 60_000 }, 200, (k) => 20 + 10 * k, 30_000);
    expect(r.told).toBe(200);
    // queueMs 100 over the fastest (30 ms at 1 in flight): a knee at about 11 in flight, overshot
    // at most 2x; the drain schedule (60 s) never binds.
    expect(r.maxInFlight).toBeLessThanOrEqual(24);
    expect(r.slowestMs).toBeLessThanOrEqual(20 + 10 * 24);
  });

  it('does not grow while nobody waits (an idle window does not run up)', () => {
    const { p, clock } = pacer(2, 10_000, () => true, 1e9, 100);
    p.start(sids(3), 60_000);
    clock.advance(10);
    p.done('s0'); // s2 was waiting: 3
    expect(p.window).toBe(3);
    p.done('s1');
    p.done('s2');
    expect(p.window).toBe(3);
  });

  it('skips sessions that are no longer connected without taking a slot', () => {
    const gone = new Set(['s1', 's2']);
    const { p, sent } = pacer(2, 250, (sid) => !gone.has(sid));
    p.start(sids(5), 5000);
    expect(sent).toEqual(['s0', 's3']);
    expect(p.sent).toBe(2);
  });

  it('notifies everyone still queued at the deadline, and later sessions as they come', () => {
    const { p, clock, sent } = pacer(2, 10_000);
    p.start(sids(6), 5000);
    expect(sent.length).toBe(2);
    clock.advance(5000);
    expect(sent).toEqual(sids(6));
    expect(p.queued).toBe(0);
    p.add('late');
    expect(sent.at(-1)).toBe('late');
    expect(clock.pending).toBe(0);
  });

  it('queues a session that connects while paced, and notifies it in turn', () => {
    const { p, sent } = pacer(1, 250);
    p.start(['a'], 5000);
    p.add('b');
    p.add('a'); // already notified: not again
    expect(sent).toEqual(['a']);
    p.done('a');
    expect(sent).toEqual(['a', 'b']);
  });

  it('stops (ONLINE again, or the node stops): nothing more is sent, no timer left', () => {
    const { p, clock, sent } = pacer(2, 250);
    p.start(sids(6), 5000);
    p.stop();
    expect(p.running).toBe(false);
    expect(clock.pending).toBe(0);
    p.done('s0');
    p.add('x');
    clock.advance(10_000);
    expect(sent).toEqual(['s0', 's1']);
    // Going OFFLINE again starts over from the sessions given then.
    p.start(['s4', 's5'], 5000);
    expect(sent).toEqual(['s0', 's1', 's4', 's5']);
  });

  it('checks its settings: defaults, a number is the window, false or 0 is off, bad values throw', () => {
    const d = { window: DEFAULT_PACING_WINDOW, slotMs: DEFAULT_PACING_SLOT_MS, queueMs: DEFAULT_PACING_QUEUE_MS, drainMs: DEFAULT_PACING_DRAIN_MS };
    expect(pacingSettings(undefined)).toEqual(d);
    expect(pacingSettings(true)).toEqual(d);
    expect(pacingSettings(64)).toEqual({ ...d, window: 64 });
    expect(pacingSettings({ slotMs: 100 })).toEqual({ ...d, slotMs: 100 });
    expect(() => pacingSettings({ drainMs: -5 })).toThrow(/drainMs/);
    expect(() => pacingSettings({ queueMs: -1 })).toThrow(/queueMs/);
    expect(pacingSettings({ queueMs: 0 })).toEqual({ ...d, queueMs: 0 });
    expect(pacingSettings(false)).toBeNull();
    expect(pacingSettings(0)).toBeNull();
    expect(() => pacingSettings(-1)).toThrow(RangeError);
    expect(() => pacingSettings(2.5)).toThrow(/window/);
    expect(() => pacingSettings({ slotMs: 0 })).toThrow(/slotMs/);
  });
});
