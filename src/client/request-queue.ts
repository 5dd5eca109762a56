/**
 * Pairs responses with requests: responses carry no request id, so an answer goes
 * to the oldest outstanding request with the same ver/cmd (PROTOCOL section 1).
 * A request that timed out keeps its place and swallows its late answer, so the
 * answers after it stay paired with the right requests.
 */
import { DiarkisError } from './errors';
import type { Response, UnsentRequest } from './types';

interface Pending {
  ver: number;
  cmd: number;
  timeoutMs: number;
  resolve: (r: Response) => void;
  reject: (e: DiarkisError) => void;
  /** When it times out (performance.now() ms); Infinity until armed. */
  deadline: number;
  settled: boolean;
  /** Order of the request among all ver/cmd pairs. */
  seq: number;
  /** Made while a migration held sends: not sent to the old node. */
  held: boolean;
  /** What was sent (the caller's bytes, not copied), for details.unconfirmed. */
  payload: Uint8Array | undefined;
}

/** A FIFO with O(1) shift (a head index, compacted now and then). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head++];
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  /** The waiting items, oldest first (a view: do not keep it). */
  *waiting(): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

const EMPTY = Buffer.alloc(0);

const key = (ver: number, cmd: number): number => ver * 0x10000 + cmd;

/**
 * The timeouts share ONE timer, armed at the earliest deadline (a timer per request
 * cost more than the rest of the request path); when it fires, every waiting
 * request is checked (a few per ver/cmd: the requests in flight).
 */
export class RequestQueue {
  private readonly queues = new Map<number, Fifo<Pending>>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Requests held in the migration queue: their timeouts start on resumeTimers(). */
  private paused: Pending[] = [];
  private pausing = false;
  private nextSeq = 0;
  // The last ver/cmd's FIFO: a client in a loop mostly uses one (a Map lookup per request
  // and per answer otherwise: issue 9's profile).
  private lastKey = -1;
  private lastQueue: Fifo<Pending> | undefined;

  private queueOf(k: number): Fifo<Pending> | undefined {
    if (k === this.lastKey) return this.lastQueue;
    const q = this.queues.get(k);
    if (q !== undefined) {
      this.lastKey = k;
      this.lastQueue = q;
    }
    return q;
  }

  /** Number of requests waiting for an answer, timed-out ones included. */
  get outstanding(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.size;
    return n;
  }

  /** From now on new requests wait in the migration queue: their timeouts do not run yet. */
  pauseTimers(): void {
    this.pausing = true;
  }

  /** The held queue was sent (or handed back): the paused timeouts start now, in full. */
  resumeTimers(): void {
    this.pausing = false;
    const held = this.paused;
    this.paused = [];
    for (const p of held) this.arm(p);
  }

  /** Starts p's timeout (at once, or when a migration's held queue is sent). */
  private arm(p: Pending): void {
    if (p.settled) return;
    p.deadline = performance.now() + p.timeoutMs;
    if (p.deadline < this.timerAt) this.schedule(p.deadline);
  }

  private schedule(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, Math.ceil(at - performance.now())));
    // Pending requests alone do not keep the process alive (the client's ref does).
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const q of this.queues.values()) {
      for (const p of q.waiting()) {
        if (p.settled) continue;
        if (p.deadline <= now) {
          // Keep the entry in the FIFO: its late answer must still be consumed.
          p.settled = true;
          p.reject(new DiarkisError('timeout', `request ver ${p.ver} cmd ${p.cmd} got no answer within ${p.timeoutMs} ms`));
        } else if (p.deadline < next) {
          next = p.deadline;
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
    const open: Pending[] = [];
    for (const q of this.queues.values()) for (const p of q.waiting()) if (!p.settled && !p.held) open.push(p);
    // A Buffer view over the caller's bytes, made here rather than per request.
    const asBuffer = (b: Uint8Array | undefined): Buffer =>
      b === undefined ? EMPTY : Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    return open.sort((a, b) => a.seq - b.seq).map((p) => ({ ver: p.ver, cmd: p.cmd, payload: asBuffer(p.payload) }));
  }

  add(ver: number, cmd: number, timeoutMs: number, payload?: Uint8Array): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const p: Pending = {
        ver,
        cmd,
        timeoutMs,
        resolve,
        reject,
        deadline: Infinity,
        settled: false,
        seq: this.nextSeq++,
        held: this.pausing,
        payload,
      };
      if (this.pausing) this.paused.push(p);
      else this.arm(p);
      const k = key(ver, cmd);
      let q = this.queueOf(k);
      if (q === undefined) {
        q = new Fifo<Pending>();
        this.queues.set(k, q);
      }
      q.push(p);
    });
  }

  /** Hands an answer to the oldest request of ver/cmd. False when none was waiting. */
  answer(ver: number, cmd: number, status: number, payload: Buffer): boolean {
    const q = this.queueOf(key(ver, cmd));
    const p = q?.shift();
    if (q === undefined || p === undefined) return false;
    // An empty FIFO stays (one per ver/cmd in use): one request at a time would
    // otherwise make and drop one per request.
    if (!p.settled) {
      p.settled = true;
      p.resolve({ status, payload });
    }
    return true;
  }

  /** Rejects every waiting request (the connection ended). */
  failAll(err: DiarkisError): void {
    this.pausing = false;
    this.paused = [];
    for (const q of this.queues.values()) {
      for (const p of q.drain()) {
        if (p.settled) continue;
        p.settled = true;
        p.reject(err);
      }
    }
    this.queues.clear();
    this.lastKey = -1;
    this.lastQueue = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
