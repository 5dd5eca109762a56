// Issue 12: the OFFLINE node's notice pacing (src/server/offline-pacer.ts), on a ManualClock:
// the window, slots freed by leaving or by their time cap, the deadline, late sessions, stop.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/server/clock';
import { DEFAULT_PACING_DRAIN_MS, DEFAULT_PACING_SLOT_MS, DEFAULT_PACING_WINDOW, OfflinePacer, pacingSettings } from '../src/server/offline-pacer';

function pacer(window: number, slotMs: number, connected = (_sid: string): boolean => true, drainMs = 1e9): { p: OfflinePacer; clock: ManualClock; sent: string[] } {
  const clock = new ManualClock(1000);
  const sent: string[] = [];
  const p = new OfflinePacer({ window, slotMs, drainMs }, { clock, notify: (sid) => connected(sid) && sent.push(sid) > 0 });
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

  it('opens the window so the queue is told within drainMs of OFFLINE at the measured move time', () => {
    const { p, clock, sent } = pacer(1, 10_000, () => true, 1000);
    p.start(sids(41), 60_000);
    expect(p.window).toBe(1); // nothing measured yet
    // Before the first move completes, the oldest slot's age stands for the move time, looked at
    // every PACING_TICK_MS: at 50 ms, 40 queued, 950 ms left: ceil(40 x 50 / 950) = 3; at 100 ms,
    // ceil(38 x 100 / 900) = 5.
    clock.advance(100);
    expect([p.outstanding, p.queued]).toEqual([5, 36]);
    p.done('s0'); // measured: 100 ms per move, 36 queued, 900 ms left: ceil(36 x 100 / 900) = 4
    expect([p.outstanding, p.queued]).toEqual([4, 36]);
    // Ticks as the deadline nears: ceil(36 x 100 / 850) = 5, ... ceil(32 x 100 / 400) = 8 at 600 ms.
    clock.advance(500);
    expect([p.outstanding, p.queued]).toEqual([8, 32]);
    // s1 took 550 ms: the shortest move (100 ms) still sizes the window, ceil(32 x 100 / 400) = 8: a
    // slow move in a busy window does not open it further (a mean would feed on the window's own queue).
    p.done('s1');
    expect([p.outstanding, p.queued]).toEqual([8, 31]);
    clock.advance(399);
    expect(p.queued).toBeGreaterThan(0);
    clock.advance(1); // the deadline: the rest at once
    expect(sent).toEqual(sids(41));
    expect(p.queued).toBe(0);
  });

  it('opens the window before any move completes when the first ones are slower than drainMs allows', () => {
    const { p, clock } = pacer(16, 10_000, () => true, 1000);
    p.start(sids(500), 60_000);
    expect(p.outstanding).toBe(16);
    // No claim yet: the oldest slot's age is a floor of the move time. Ticks at 50 .. 250 ms open
    // the window to 26, 53, 79, 106, 132; at 300 ms ceil(368 x 300 / 700) = 158.
    clock.advance(300);
    expect([p.outstanding, p.queued]).toEqual([158, 342]);
  });

  it('a slot that runs out frees its place but measures no move', () => {
    const { p, clock } = pacer(2, 100, () => true, 1000);
    p.start(sids(40), 60_000);
    clock.advance(100); // both slots out, nothing measured: the floor's 2 go next
    expect([p.outstanding, p.queued]).toEqual([2, 36]);
  });

  it('closes the window to its floor again when the moves get fast', () => {
    const { p, clock, sent } = pacer(2, 10_000, () => true, 1000);
    p.start(sids(102), 60_000);
    clock.advance(50);
    p.done('s0'); // ceil(100 x 50 / 950) = 6
    expect(p.outstanding).toBe(6);
    const done = new Set(['s0']);
    for (let i = 0; i < 16; i++) {
      const oldest = sent.find((x) => !done.has(x)) as string;
      done.add(oldest);
      p.done(oldest); // instant moves: the mean falls 1/8 per sample
    }
    expect(p.window).toBe(2);
    expect(p.outstanding).toBe(2);
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
    const d = { window: DEFAULT_PACING_WINDOW, slotMs: DEFAULT_PACING_SLOT_MS, drainMs: DEFAULT_PACING_DRAIN_MS };
    expect(pacingSettings(undefined)).toEqual(d);
    expect(pacingSettings(true)).toEqual(d);
    expect(pacingSettings(64)).toEqual({ ...d, window: 64 });
    expect(pacingSettings({ slotMs: 100 })).toEqual({ ...d, slotMs: 100 });
    expect(() => pacingSettings({ drainMs: -5 })).toThrow(/drainMs/);
    expect(pacingSettings(false)).toBeNull();
    expect(pacingSettings(0)).toBeNull();
    expect(() => pacingSettings(-1)).toThrow(RangeError);
    expect(() => pacingSettings(2.5)).toThrow(/window/);
    expect(() => pacingSettings({ slotMs: 0 })).toThrow(/slotMs/);
  });
});
