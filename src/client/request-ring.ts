/**
 * One ver/cmd's outstanding requests, oldest first: a ring of parallel arrays, so a request costs
 * a few stores into preallocated slots and no object of its own (issue 9, seventh session).
 * Only request-queue.ts uses it.
 */
import type { DiarkisError } from './errors';
import type { Response } from './types';

export type Resolve = (r: Response | PromiseLike<Response>) => void;

/**
 * Rejects a promise through its resolve function: one resolver stored per request instead of
 * two (each store of a new function into the ring's long-lived array costs a write barrier).
 * A thenable, not a rejected promise: nothing for the unhandled-rejection tracking to see.
 */
function rejecting(err: DiarkisError): PromiseLike<Response> {
  return {
    then<A, B>(_ok?: unknown, fail?: ((e: unknown) => A | PromiseLike<A>) | null): PromiseLike<A | B> {
      fail?.(err);
      return this as unknown as PromiseLike<A | B>;
    },
  };
}

/** Answered, timed out or failed: the slot stays (its late answer is swallowed), nothing is settled twice. */
export const SETTLED = 1;
/** Made while a migration held sends: not sent to the old node (not in details.unconfirmed). */
export const HELD = 2;
/** Its timeout starts when the migration's held queue is sent (RequestQueue.resumeTimers). */
export const PAUSED = 4;

const MIN_CAPACITY = 8;
/** An empty ring larger than this goes back to MIN_CAPACITY (a burst does not keep its memory). */
const SHRINK_ABOVE = 1024;

export class RequestRing {
  /** Slot of the oldest entry. */
  head = 0;
  size = 0;
  /** The newest `unarmed` entries have no deadline yet: the turn's end arms them. */
  unarmed = 0;
  mask = MIN_CAPACITY - 1;
  resolve: Array<Resolve | undefined> = new Array<Resolve | undefined>(MIN_CAPACITY).fill(undefined);
  /** What was sent (the caller's bytes, not copied), for details.unconfirmed. */
  payload: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(MIN_CAPACITY).fill(undefined);
  /** When it times out (the queue's clock, ms); Infinity until armed. */
  deadline: Float64Array = new Float64Array(MIN_CAPACITY);
  timeoutMs: Float64Array = new Float64Array(MIN_CAPACITY);
  /** Order among every ver/cmd of the client. */
  seq: Float64Array = new Float64Array(MIN_CAPACITY);
  state: Uint8Array = new Uint8Array(MIN_CAPACITY);

  constructor(readonly ver: number, readonly cmd: number) {}

  /** Slot of the k-th oldest entry (0 <= k < size). */
  slot(k: number): number {
    return (this.head + k) & this.mask;
  }

  push(resolve: Resolve, payload: Uint8Array | undefined, timeoutMs: number, seq: number, state: number): void {
    if (this.size > this.mask) this.resize(2 * (this.mask + 1));
    const i = (this.head + this.size) & this.mask;
    this.resolve[i] = resolve;
    this.payload[i] = payload;
    this.deadline[i] = Infinity;
    this.timeoutMs[i] = timeoutMs;
    this.seq[i] = seq;
    this.state[i] = state;
    this.size++;
  }

  /**
   * Takes the oldest entry off; returns its resolver when it was still waiting (undefined when it
   * had settled: a timed-out request's late answer). The ring must not be empty.
   */
  shift(): Resolve | undefined {
    const i = this.head;
    const res = (this.state[i] & SETTLED) === 0 ? this.resolve[i] : undefined;
    this.resolve[i] = undefined;
    this.payload[i] = undefined;
    this.head = (i + 1) & this.mask;
    this.size--;
    if (this.unarmed > this.size) this.unarmed = this.size;
    if (this.size === 0 && this.mask >= SHRINK_ABOVE) this.resize(MIN_CAPACITY);
    return res;
  }

  /** Settles the entry in slot i with `err` (no-op when it had settled). */
  fail(i: number, err: DiarkisError): void {
    if ((this.state[i] & SETTLED) !== 0) return;
    this.state[i] |= SETTLED;
    const res = this.resolve[i];
    this.resolve[i] = undefined;
    res?.(rejecting(err));
  }

  private resize(capacity: number): void {
    const resolve = new Array<Resolve | undefined>(capacity).fill(undefined);
    const payload = new Array<Uint8Array | undefined>(capacity).fill(undefined);
    const deadline = new Float64Array(capacity);
    const timeoutMs = new Float64Array(capacity);
    const seq = new Float64Array(capacity);
    const state = new Uint8Array(capacity);
    const n = Math.min(this.size, capacity);
    for (let k = 0; k < n; k++) {
      const i = this.slot(k);
      resolve[k] = this.resolve[i];
      payload[k] = this.payload[i];
      deadline[k] = this.deadline[i];
      timeoutMs[k] = this.timeoutMs[i];
      seq[k] = this.seq[i];
      state[k] = this.state[i];
    }
    this.resolve = resolve;
    this.payload = payload;
    this.deadline = deadline;
    this.timeoutMs = timeoutMs;
    this.seq = seq;
    this.state = state;
    this.head = 0;
    this.mask = capacity - 1;
  }
}
