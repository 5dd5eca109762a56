/**
 * One timer per node for all its sessions' deadlines (issue 10/12): a binary min-heap of the
 * sessions keyed by their earliest deadline, and one clock timer for the heap's first. Re-arming a
 * session is a sift in the heap (O(log n), no allocation), not a timer-list insert and remove per
 * session and per ACK; the sessions due are handled in one pass when the timer fires.
 *
 * A session is any object with the two fields below (the heap keeps its position in it, so
 * moving or cancelling it needs no search). Time is the given Clock's (tests: ManualClock).
 */
import type { Clock } from './clock';

export interface Timed {
  /** The deadline it is armed for (clock ms); meaningful while armed. */
  timerAt: number;
  /** Its index in the heap; NOT_ARMED when not in it, DUE while in a firing pass. */
  timerSlot: number;
}

export const NOT_ARMED = -1;
const DUE = -2;

export class NodeTimers<T extends Timed> {
  private readonly heap: T[] = [];
  private cancelTimer: (() => void) | null = null;
  /** When the clock timer fires (clock ms, whole ms after arming; +Infinity: none armed). */
  private firesAt = Number.POSITIVE_INFINITY;
  private firing = false;
  private batch: T[] = [];

  /**
   * `onDue` gets each session whose deadline passed, with the time of the pass and that deadline;
   * it is no longer armed then (it re-arms itself). A session cancelled or re-armed by another's
   * callback in the same pass is skipped.
   */
  constructor(
    private readonly clock: Clock,
    private readonly onDue: (item: T, now: number, at: number) => void,
  ) {}

  /** Sessions armed. */
  get size(): number {
    return this.heap.length;
  }

  /** The earliest deadline armed (+Infinity with none). */
  get next(): number {
    return this.heap.length === 0 ? Number.POSITIVE_INFINITY : (this.heap[0] as T).timerAt;
  }

  /** Arms `item` for `at`, or moves it there (earlier or later). */
  arm(item: T, at: number): void {
    const i = item.timerSlot;
    item.timerAt = at;
    if (i >= 0) {
      // Up if earlier than its parent, else down: one of them is a no-op.
      if (!this.up(i)) this.down(i);
    } else {
      item.timerSlot = this.heap.length;
      this.heap.push(item);
      this.up(item.timerSlot);
    }
    // Only a deadline before the armed timer's moves it (clock timers fire in whole ms).
    if (at < this.firesAt && !this.firing) {
      const now = this.clock.now();
      if (now + Math.max(0, Math.ceil(at - now)) < this.firesAt) this.rearm(now);
    }
  }

  /** Takes `item` out (idempotent). The clock timer stays: a wake-up that finds nothing due re-arms. */
  cancel(item: T): void {
    const i = item.timerSlot;
    item.timerSlot = NOT_ARMED;
    if (i < 0) return;
    const last = this.heap.pop() as T;
    if (i === this.heap.length) return;
    this.heap[i] = last;
    last.timerSlot = i;
    if (!this.up(i)) this.down(i);
  }

  /** Cancels every session and the clock timer. */
  clear(): void {
    for (const x of this.heap) x.timerSlot = NOT_ARMED;
    this.heap.length = 0;
    for (const x of this.batch) x.timerSlot = NOT_ARMED;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.firesAt = Number.POSITIVE_INFINITY;
  }

  /** The clock timer for the heap's first deadline (none while a pass runs: it re-arms at its end). */
  private rearm(now: number): void {
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.firesAt = Number.POSITIVE_INFINITY;
    if (this.heap.length === 0) return;
    const delay = Math.max(0, Math.ceil((this.heap[0] as T).timerAt - now));
    this.firesAt = now + delay;
    this.cancelTimer = this.clock.setTimer(() => this.fire(), delay);
  }

  private fire(): void {
    this.cancelTimer = null;
    this.firesAt = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    // Everything due leaves the heap first: a callback that re-arms for `now` or earlier waits
    // for the next pass instead of looping here.
    const batch = this.batch;
    while (this.heap.length > 0 && (this.heap[0] as T).timerAt <= now) {
      const x = this.pop();
      x.timerSlot = DUE;
      batch.push(x);
    }
    this.firing = true;
    try {
      for (let i = 0; i < batch.length; i++) {
        const x = batch[i] as T;
        if (x.timerSlot !== DUE) continue;
        x.timerSlot = NOT_ARMED;
        this.onDue(x, now, x.timerAt);
      }
    } finally {
      for (const x of batch) if (x.timerSlot === DUE) x.timerSlot = NOT_ARMED;
      batch.length = 0;
      this.firing = false;
      this.rearm(this.clock.now());
    }
  }

  private pop(): T {
    const top = this.heap[0] as T;
    const last = this.heap.pop() as T;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      last.timerSlot = 0;
      this.down(0);
    }
    return top;
  }

  /** Sifts heap[i] up; true when it moved. */
  private up(i: number): boolean {
    const h = this.heap;
    const x = h[i] as T;
    const start = i;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const y = h[p] as T;
      if (y.timerAt <= x.timerAt) break;
      h[i] = y;
      y.timerSlot = i;
      i = p;
    }
    h[i] = x;
    x.timerSlot = i;
    return i !== start;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const x = h[i] as T;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (h[c + 1] as T).timerAt < (h[c] as T).timerAt) c++;
      const y = h[c] as T;
      if (y.timerAt >= x.timerAt) break;
      h[i] = y;
      y.timerSlot = i;
      i = c;
    }
    h[i] = x;
    x.timerSlot = i;
  }
}
