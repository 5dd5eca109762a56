/**
 * Time as the cluster sees it: the shutdown timeout and handoff expiry go through a Clock so tests
 * drive them with ManualClock instead of sleeping.
 */
export interface Clock {
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it (idempotent). */
  setTimer(fn: () => void, ms: number): () => void;
}

/** Wall-clock time; timers are unref'd (the servers, not a pending timer, keep a process alive). */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that only moves when told to: advance() fires due timers in time (then creation) order. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Set<ManualTimer>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer: ManualTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return () => {
      this.timers.delete(timer);
    };
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: ManualTimer | null = null;
      for (const x of this.timers) {
        if (x.at > end) continue;
        if (next === null || x.at < next.at || (x.at === next.at && x.seq < next.seq)) next = x;
      }
      if (next === null) break;
      this.timers.delete(next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}
