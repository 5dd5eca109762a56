/**
 * Offline-notice pacing (issue 12; a deviation from PROTOCOL 7.1's "at once", see docs/decisions.md).
 * An OFFLINE node notifies a window of its sessions and the next ones as earlier ones complete, so
 * a storm of moves does not queue behind itself: each client's move (from its notice) waits only for
 * the moves in the window, not for every other one. Self-clocked like a transport's window: a slot
 * is freed when its move completes (the target's claim of the handoff, reported back to the old node
 * by Handoffs in one process and by the store's claim script across processes), when its session
 * ends here without moving (a client that reconnects instead), or when its time cap runs out (a
 * client that never asks to move, or never claims, must not hold the window).
 *
 * Two rules, the larger wins (docs/decisions.md, "Issue 12: pacing policy (seventh session)"):
 * - a delay-based window that grows while moves complete about as fast as the fastest so far and
 *   shrinks when they queue (`queueMs`): it throttles where the moves slow because of the window;
 * - a notice line: by `t` after the OFFLINE call at least `count x t / drainMs` sessions are told
 *   (the count: every session queued so far), so pacing never spreads the notices over more than
 *   `drainMs` and opens at that pace where every move is slow for reasons the window does not cause.
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
   * Every session is notified within this long of the OFFLINE call, on a straight line: by `t` at
   * least `count x t / drainMs` of them, whatever the window (default 1000 ms).
   */
  drainMs?: number;
}

/** Default window per node: enough to keep a move pipeline busy (a slot lasts a few ms unloaded). */
export const DEFAULT_PACING_WINDOW = 16;
export const DEFAULT_PACING_SLOT_MS = 1000;
export const DEFAULT_PACING_QUEUE_MS = 100;
export const DEFAULT_PACING_DRAIN_MS = 1000;
/** While sessions wait, the notice line is looked at again this often. */
export const PACING_TICK_MS = 20;

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
  /** The delay-based window now (the configured one at least), moved by each completed move (sample()). */
  private cwnd = 1;
  /** When start() ran (the OFFLINE call): the notice line and the deadline count from it. */
  private startedAt = 0;
  /** Sessions given to this pacer since start() (queued at the call and added later): the line's count. */
  private counted = 0;
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
    this.startedAt = this.hooks.clock.now();
    this.sent = 0;
    for (const sid of sids) this.queue.add(sid);
    this.counted = this.queue.size;
    this.cancelAllBy = this.hooks.clock.setTimer(() => {
      this.cancelAllBy = null;
      this.notifyAll();
    }, Math.min(allByMs, this.settings.drainMs));
    this.fill();
  }

  /** A session connected while the node is OFFLINE: it is notified in turn. */
  add(sid: string): void {
    if (!this.active || this.slots.has(sid) || this.queue.has(sid)) return;
    this.queue.add(sid);
    this.counted++;
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
   * The delay-based window (see queueMs), like a transport's Vegas or LEDBAT: against the fastest
   * move so far, it settles where the moves queue about `queueMs`. It is not sized on the moves'
   * mean time (the fifth session's rule): the mean grows with the moves in flight, so a window
   * sized on it fed on its own queue.
   */
  get window(): number {
    return this.slotsUnbounded ? Number.MAX_SAFE_INTEGER : this.cwnd;
  }

  /**
   * Notices the line asks for by now: `counted x elapsed / drainMs`. Where every move is slow for a
   * reason the window does not cause (1000 + 1000 on Redis: the client process holding 2000 clients,
   * moves of 0.5-1 s at any window), the delay-based window stays at its floor and the line alone
   * sets the pace: the notices go out evenly over `drainMs`, not in a trickle until a deadline
   * (measured: the fifth session's rolling schedule to 3 s made all moved 1.4-1.6x the storm's).
   */
  lineTarget(now = this.hooks.clock.now()): number {
    // Compared with the sessions off the queue (told, or gone before their turn).
    return Math.ceil((this.counted * Math.max(0, now - this.startedAt)) / this.settings.drainMs);
  }

  private sample(ms: number): void {
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
    const line = this.lineTarget(now);
    for (const sid of this.queue) {
      if (!this.slotsUnbounded && this.slots.size >= window && this.counted - this.queue.size >= line) break;
      this.queue.delete(sid);
      if (!this.hooks.notify(sid)) continue;
      this.sent++;
      if (!this.slotsUnbounded) this.slots.set(sid, now);
    }
    this.armSlotTimer();
  }

  /**
   * One timer for the oldest slot (every slot has the same cap, so the oldest expires first), and
   * every PACING_TICK_MS while sessions wait: the notice line moves on.
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
