/**
 * Offline-notice pacing (issue 12; a deviation from PROTOCOL 7.1's "at once", see docs/decisions.md).
 * An OFFLINE node notifies a window of its sessions and the next ones as earlier ones complete, so
 * a storm of moves does not queue behind itself: each client's move (from its notice) waits only for
 * the moves in the window, not for every other one. Self-clocked like a transport's window: a slot
 * is freed when its move completes (the target's claim of the handoff, reported back to the old node
 * by Handoffs in one process and by the store's claim script across processes), when its session
 * ends here without moving (a client that reconnects instead), or when its time cap runs out (a
 * client that never asks to move, or never claims, must not hold the window). Delay-based: the
 * window grows while moves complete about as fast as the fastest so far and shrinks when they queue
 * (`queueMs`), so as many move at once as the cluster takes without a queue. Bounded in time: what
 * is still queued `drainMs` after the OFFLINE call (or at `allByMs`, well before the shutdown
 * timeout cuts the rest) is notified at once.
 */
import type { Clock } from './clock';

export interface OfflinePacingOptions {
  /** Moves outstanding at once (sessions notified whose move has not completed), at least. Default 16. */
  window?: number;
  /** A notice frees its slot after this long even if its move has not completed (default 1000 ms). */
  slotMs?: number;
  /**
   * The window grows by one for each move that took less than this much longer than the fastest
   * move so far (notice -> claim), and shrinks by one (down to `window`) for each slower one: it
   * settles where the moves queue about this long, so the cluster moves as many at once as it can
   * without a queue (default 100 ms; 0: a fixed window).
   */
  queueMs?: number;
  /**
   * Every session connected at the OFFLINE call is notified within this long of it: the window is
   * at least what the moves' mean time needs to tell the queue by then (queued x mean move / time
   * left), and what is still queued then is told at once (default 3000 ms).
   */
  drainMs?: number;
}

/** Default window per node: enough to keep a move pipeline busy (a slot lasts a few ms unloaded). */
export const DEFAULT_PACING_WINDOW = 16;
export const DEFAULT_PACING_SLOT_MS = 1000;
export const DEFAULT_PACING_QUEUE_MS = 100;
export const DEFAULT_PACING_DRAIN_MS = 3000;
/** While sessions wait, the drain schedule is looked at again this often (the deadline comes closer). */
export const PACING_TICK_MS = 50;

/** `offlinePacing` as users give it: false/0 = PROTOCOL 7.1's notice to everyone at once. */
export type OfflinePacing = boolean | number | OfflinePacingOptions;

/** The checked settings, or null when pacing is off. */
export function pacingSettings(p: OfflinePacing | undefined): Required<OfflinePacingOptions> | null {
  if (p === false || p === 0) return null;
  const o: OfflinePacingOptions = p === undefined || p === true ? {} : typeof p === 'number' ? { window: p } : p;
  const window = o.window ?? DEFAULT_PACING_WINDOW;
  const slotMs = o.slotMs ?? DEFAULT_PACING_SLOT_MS;
  const drainMs = o.drainMs ?? DEFAULT_PACING_DRAIN_MS;
  const queueMs = o.queueMs ?? DEFAULT_PACING_QUEUE_MS;
  if (!Number.isFinite(queueMs) || queueMs < 0) throw new RangeError(`offlinePacing.queueMs: a number of ms >= 0, not ${String(queueMs)}`);
  if (!Number.isInteger(window) || window < 1 || window > 1_000_000) throw new RangeError(`offlinePacing.window: an integer >= 1, not ${String(window)}`);
  if (!Number.isFinite(slotMs) || slotMs <= 0) throw new RangeError(`offlinePacing.slotMs: a positive number of ms, not ${String(slotMs)}`);
  if (!Number.isFinite(drainMs) || drainMs <= 0) throw new RangeError(`offlinePacing.drainMs: a positive number of ms, not ${String(drainMs)}`);
  return { window, slotMs, queueMs, drainMs };
}

export interface PacerHooks {
  clock: Clock;
  /** Sends the notice to session `sid`; false when it is no longer connected here (no slot taken). */
  notify(sid: string): boolean;
}

export class OfflinePacer {
  /** Waiting for a slot, in order (a Set: a session that leaves meanwhile is simply deleted). */
  private readonly queue = new Set<string>();
  /** Notified and not yet left, with the time the slot was taken (insertion order = expiry order). */
  private readonly slots = new Map<string, number>();
  private cancelSlotTimer: (() => void) | null = null;
  private cancelAllBy: (() => void) | null = null;
  private active = false;
  /** After the deadline: every session is notified as it comes. */
  private slotsUnbounded = false;
  /** The shortest move so far (notice -> claim or end), null before the first. */
  private minSlotMs: number | null = null;
  /** The window now (the configured one at least), moved by each completed move (sample()). */
  private cwnd = 1;
  /** Mean move time (EWMA, 1/8), null before the first: the drain schedule's pace. */
  private meanSlotMs: number | null = null;
  /** When start() ran (the OFFLINE call): the drain deadline counts from it. */
  private startedAt = 0;
  /** Notices sent by this pacer since start() (for tests and stats). */
  sent = 0;

  constructor(
    private readonly settings: Required<OfflinePacingOptions>,
    private readonly hooks: PacerHooks,
  ) {}

  get running(): boolean {
    return this.active;
  }

  get outstanding(): number {
    return this.slots.size;
  }

  get queued(): number {
    return this.queue.size;
  }

  /** The node went OFFLINE: `sids` (its connected sessions) are notified a window at a time. */
  start(sids: Iterable<string>, allByMs: number): void {
    this.stop();
    this.active = true;
    this.slotsUnbounded = false;
    this.minSlotMs = null;
    this.cwnd = this.settings.window;
    this.meanSlotMs = null;
    this.startedAt = this.hooks.clock.now();
    this.sent = 0;
    for (const sid of sids) this.queue.add(sid);
    this.cancelAllBy = this.hooks.clock.setTimer(() => {
      this.cancelAllBy = null;
      this.notifyAll();
    }, Math.min(allByMs, this.settings.drainMs));
    this.fill();
  }

  /** A session connected while the node is OFFLINE: it is notified in turn. */
  add(sid: string): void {
    if (!this.active || this.slots.has(sid)) return;
    this.queue.add(sid);
    this.fill();
  }

  /** The session's move completed (claimed at the target) or it ended here: its slot, or its place in the queue, goes. */
  done(sid: string): void {
    if (!this.active) return;
    if (this.queue.delete(sid)) return;
    const at = this.slots.get(sid);
    if (at === undefined) return;
    this.slots.delete(sid);
    this.sample(this.hooks.clock.now() - at);
    this.fill();
  }

  /**
   * The window now (see queueMs): delay-based, like a transport's Vegas or LEDBAT, against the
   * fastest move so far, not a fixed time, so a cluster where every move is slow for reasons the
   * window does not cause (a client process that answers late) still opens it. Sized on the moves'
   * queueing, not on their mean time to drain the queue by a date: the mean grows with the moves in
   * flight, so a window sized on it fed on its own queue and opened into a storm wherever the
   * cluster was busy (measured: move p99 0.7-2.3 s at 500 + 500 on Redis, load 3-10).
   */
  get window(): number {
    if (this.slotsUnbounded) return Number.MAX_SAFE_INTEGER;
    // The drain schedule, a floor under the delay-based window: where every move is slow for a
    // reason the window does not cause (1000 + 1000 on Redis: the client process saturated, moves
    // 1-3 s however few), moves never queue "little" and the window alone would keep its floor
    // until the deadline, then tell everyone at once (measured: all moved 1.7x the storm's).
    // Before the first move completes, the oldest one's age so far stands for the mean.
    const now = this.hooks.clock.now();
    const mean = this.meanSlotMs ?? (this.slots.size === 0 ? 0 : now - (this.slots.values().next().value as number));
    const left = this.startedAt + this.settings.drainMs - now;
    if (left <= 0) return Number.MAX_SAFE_INTEGER;
    return Math.max(this.cwnd, Math.ceil((this.queue.size * mean) / left));
  }

  private sample(ms: number): void {
    this.meanSlotMs = this.meanSlotMs === null ? ms : this.meanSlotMs + (ms - this.meanSlotMs) / 8;
    this.minSlotMs = this.minSlotMs === null ? ms : Math.min(this.minSlotMs, ms);
    // Growth only while the window is used (sessions wait), so an idle window does not run up.
    if (ms - this.minSlotMs < this.settings.queueMs) {
      if (this.queue.size > 0) this.cwnd++;
    } else {
      this.cwnd = Math.max(this.settings.window, this.cwnd - 1);
    }
  }

  /** ONLINE again, or the node stops: nothing more is sent. */
  stop(): void {
    this.active = false;
    this.queue.clear();
    this.slots.clear();
    this.cancelSlotTimer?.();
    this.cancelSlotTimer = null;
    this.cancelAllBy?.();
    this.cancelAllBy = null;
  }

  /** Everything queued is notified now (the deadline); later sessions still come through add(). */
  private notifyAll(): void {
    for (const sid of [...this.queue]) {
      this.queue.delete(sid);
      if (this.hooks.notify(sid)) this.sent++;
    }
    this.slots.clear();
    this.cancelSlotTimer?.();
    this.cancelSlotTimer = null;
    // From now on a late session is notified as it comes (an unbounded window).
    this.slotsUnbounded = true;
  }

  private fill(): void {
    const now = this.hooks.clock.now();
    const window = this.window;
    for (const sid of this.queue) {
      if (!this.slotsUnbounded && this.slots.size >= window) break;
      this.queue.delete(sid);
      if (!this.hooks.notify(sid)) continue;
      this.sent++;
      if (!this.slotsUnbounded) this.slots.set(sid, now);
    }
    this.armSlotTimer();
  }

  /**
   * One timer for the oldest slot (every slot has the same cap, so the oldest expires first), and
   * every PACING_TICK_MS while sessions wait: the drain schedule is worked out again.
   */
  private armSlotTimer(): void {
    if (this.cancelSlotTimer !== null || this.slots.size === 0) return;
    const oldest = this.slots.values().next().value as number;
    const expiry = Math.max(0, oldest + this.settings.slotMs - this.hooks.clock.now());
    const wait = this.queue.size > 0 ? Math.min(expiry, PACING_TICK_MS) : expiry;
    this.cancelSlotTimer = this.hooks.clock.setTimer(() => {
      this.cancelSlotTimer = null;
      const now = this.hooks.clock.now();
      for (const [sid, at] of this.slots) {
        if (at + this.settings.slotMs > now) break;
        this.slots.delete(sid);
      }
      this.fill();
    }, wait);
  }
}
