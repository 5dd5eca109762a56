/**
 * Pairs responses with requests: responses carry no request id, so an answer goes
 * to the oldest outstanding request with the same ver/cmd (PROTOCOL section 1).
 * A request that timed out keeps its place and swallows its late answer, so the
 * answers after it stay paired with the right requests.
 *
 * Per request (issue 9, seventh session): a promise, its two resolvers and a few stores into
 * its ver/cmd's ring (request-ring.ts); no object of its own, no closure, no clock read. The
 * timeouts start at the end of the turn that made the requests (one clock read per turn for
 * every client, in one microtask, after the turn's send batch went out), never before the
 * request was made.
 */
import { realClock, type Clock } from '../server/clock';
import { DiarkisError } from './errors';
import { HELD, PAUSED, RequestRing, SETTLED, type Resolve } from './request-ring';
import type { Response, UnsentRequest } from './types';

/** Where the timeouts take their time (tests pass a ManualClock); timers must not keep the process alive. */
export type RequestClock = Clock;

/** The cluster's unref'd timers with a monotonic now (pending requests alone do not keep the process alive). */
export const monotonicClock: RequestClock = { ...realClock, now: () => performance.now() };

const EMPTY = Buffer.alloc(0);

const key = (ver: number, cmd: number): number => ver * 0x10000 + cmd;

// new Promise(capture) hands its resolver over without a closure per request (the ring rejects
// through it too).
let captured: Resolve | undefined;
function capture(resolve: Resolve): void {
  captured = resolve;
}

// A microtask without queueMicrotask's AsyncResource (send-batch.ts says why).
const resolved = Promise.resolve();

// The queues with requests made this turn, armed by one microtask for all of them (the array is
// reused and never shrunk: a turn allocates nothing here, and setting .length is a runtime call).
const toArm: Array<RequestQueue | undefined> = [];
let toArmCount = 0;
let armScheduled = false;
function armTurn(): void {
  armScheduled = false;
  let realNow = -1;
  for (let i = 0; i < toArmCount; i++) {
    const q = toArm[i] as RequestQueue;
    toArm[i] = undefined;
    const clock = q.clock;
    try {
      q.armNew(clock === monotonicClock ? (realNow < 0 ? (realNow = performance.now()) : realNow) : undefined);
    } catch (err) {
      // A clock that throws (a test's) must not leave the other queues unarmed for good.
      process.nextTick(() => {
        throw err;
      });
    }
  }
  toArmCount = 0;
}

/**
 * The timeouts share ONE timer, armed at the earliest deadline (a timer per request
 * cost more than the rest of the request path); when it fires, every waiting
 * request is checked (a few per ver/cmd: the requests in flight).
 */
export class RequestQueue {
  private readonly rings = new Map<number, RequestRing>();
  /** The same rings, for the walks (no iterator per walk). */
  private ringList: RequestRing[] = [];
  private cancelTimer: (() => void) | undefined;
  private timerAt = Infinity;
  private pausing = false;
  private armQueued = false;
  private nextSeq = 0;
  // The last ver/cmd's ring: a client in a loop mostly uses one (a Map lookup per request
  // and per answer otherwise: issue 9's profile).
  private lastKey = -1;
  private lastRing: RequestRing | undefined;

  constructor(readonly clock: RequestClock = monotonicClock) {}

  private ringOf(k: number): RequestRing | undefined {
    if (k === this.lastKey) return this.lastRing;
    const r = this.rings.get(k);
    if (r !== undefined) {
      this.lastKey = k;
      this.lastRing = r;
    }
    return r;
  }

  /** Number of requests waiting for an answer, timed-out ones included. */
  get outstanding(): number {
    let n = 0;
    for (const r of this.ringList) n += r.size;
    return n;
  }

  /** From now on new requests wait in the migration queue: their timeouts do not run yet. */
  pauseTimers(): void {
    this.pausing = true;
  }

  /** The held queue was sent (or handed back): the paused timeouts start now, in full. */
  resumeTimers(): void {
    if (!this.pausing) return;
    this.pausing = false;
    const now = this.clock.now();
    let earliest = Infinity;
    for (const r of this.ringList) {
      for (let k = 0; k < r.size; k++) {
        const i = r.slot(k);
        if ((r.state[i] & PAUSED) === 0) continue;
        r.state[i] &= ~PAUSED;
        if ((r.state[i] & SETTLED) !== 0) continue;
        r.deadline[i] = now + r.timeoutMs[i];
        if (r.deadline[i] < earliest) earliest = r.deadline[i];
      }
    }
    if (earliest < this.timerAt) this.schedule(earliest);
  }

  /** The turn that made the newest requests ended: their timeouts start at `at` (default: the clock's now). */
  armNew(at?: number): void {
    this.armQueued = false;
    const now = at ?? this.clock.now();
    let earliest = Infinity;
    for (const r of this.ringList) {
      for (let k = r.size - r.unarmed; k < r.size; k++) {
        const i = r.slot(k);
        if ((r.state[i] & (SETTLED | PAUSED)) !== 0) continue;
        const d = now + r.timeoutMs[i];
        r.deadline[i] = d;
        if (d < earliest) earliest = d;
      }
      r.unarmed = 0;
    }
    if (earliest < this.timerAt) this.schedule(earliest);
  }

  private schedule(at: number): void {
    this.cancelTimer?.();
    this.timerAt = at;
    this.cancelTimer = this.clock.setTimer(() => this.expire(), Math.max(0, Math.ceil(at - this.clock.now())));
  }

  private expire(): void {
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    let next = Infinity;
    for (const r of this.ringList) {
      for (let k = 0; k < r.size; k++) {
        const i = r.slot(k);
        if ((r.state[i] & SETTLED) !== 0) continue;
        const d = r.deadline[i];
        if (d <= now) {
          // The slot stays in the ring: its late answer must still be consumed.
          r.fail(i, new DiarkisError('timeout', `request ver ${r.ver} cmd ${r.cmd} got no answer within ${r.timeoutMs[i]} ms`));
        } else if (d < next) {
          next = d;
        }
      }
    }
    if (next < Infinity) this.schedule(next);
  }

  /**
   * Sent to the current node and still waiting for an answer (held requests and timed-out ones
   * are not): what a migration that fails now leaves unconfirmed, in the order sent.
   */
  unconfirmed(): UnsentRequest[] {
    const open: Array<{ seq: number; ver: number; cmd: number; payload: Uint8Array | undefined }> = [];
    for (const r of this.ringList) {
      for (let k = 0; k < r.size; k++) {
        const i = r.slot(k);
        if ((r.state[i] & (SETTLED | HELD)) === 0) open.push({ seq: r.seq[i], ver: r.ver, cmd: r.cmd, payload: r.payload[i] });
      }
    }
    // A Buffer view over the caller's bytes, made here rather than per request.
    const asBuffer = (b: Uint8Array | undefined): Buffer =>
      b === undefined ? EMPTY : Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    return open.sort((a, b) => a.seq - b.seq).map((p) => ({ ver: p.ver, cmd: p.cmd, payload: asBuffer(p.payload) }));
  }

  add(ver: number, cmd: number, timeoutMs: number, payload?: Uint8Array): Promise<Response> {
    const promise = new Promise<Response>(capture);
    const k = key(ver, cmd);
    let r = this.ringOf(k);
    if (r === undefined) {
      r = new RequestRing(ver, cmd);
      this.rings.set(k, r);
      this.ringList.push(r);
      this.lastKey = k;
      this.lastRing = r;
    }
    // An empty ring stays (one per ver/cmd in use): one request at a time would
    // otherwise make and drop one per request.
    r.push(captured as Resolve, payload, timeoutMs, this.nextSeq++, this.pausing ? HELD | PAUSED : 0);
    r.unarmed++;  // held ones too (armNew passes them over): `unarmed` counts from the newest
    if (!this.armQueued) {
      this.armQueued = true;
      toArm[toArmCount++] = this;
      if (!armScheduled) {
        armScheduled = true;
        void resolved.then(armTurn);
      }
    }
    return promise;
  }

  /** Hands an answer to the oldest request of ver/cmd. False when none was waiting. */
  answer(ver: number, cmd: number, status: number, payload: Buffer): boolean {
    const r = this.ringOf(key(ver, cmd));
    if (r === undefined || r.size === 0) return false;
    r.shift()?.({ status, payload });
    return true;
  }

  /** Rejects every waiting request (the connection ended). */
  failAll(err: DiarkisError): void {
    this.pausing = false;
    for (const r of this.ringList) {
      for (let k = 0; k < r.size; k++) r.fail(r.slot(k), err);
    }
    this.rings.clear();
    this.ringList = [];
    this.lastKey = -1;
    this.lastRing = undefined;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
  }
}
