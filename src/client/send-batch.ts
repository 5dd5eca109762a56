/**
 * The sends of one JavaScript turn, handed to the addon in one call (issue 9, fifth
 * session): on the loop driver a TCP client appends each request (id, ver, cmd, payload)
 * to this environment's record buffer, and a microtask flushes every client's records
 * with one `sendBatch` call, which encodes them straight into the sessions' output and
 * writes each socket once. Order holds: records go in the order they were made, and
 * every other native call that depends on it (close, migrate, stats, ...) flushes first.
 */
import type { NativeAddon } from '../native';

// resolved.then(task): a microtask without queueMicrotask's AsyncResource and bound function
// (about 30 ns against 75 here; one per turn, so per request at 1 in flight).
const resolved = Promise.resolve();

const HEADER = 16;  // u32 id, u32 ver | cmd << 8, u32 length, u32 slot
/** Larger payloads take the direct path (one addon call): the buffer stays small. */
export const BATCH_MAX_PAYLOAD = 16 * 1024;
/** Past this many bytes in one turn the buffer is flushed at once instead of grown. */
const FLUSH_AT = 1 << 20;
/**
 * An upper bound on what encoding adds to a payload: header 10 + SID 16 + the sealed
 * body's length 4, MAC 32 and padding 1..16. The fast path only takes what is certain to
 * fit (maxPayload, the high-water mark), so the native side never refuses it.
 */
export const SEAL_OVERHEAD = 4 + 32 + 16;
export const PACKET_OVERHEAD = 10 + 16 + SEAL_OVERHEAD;

/** Flags per client from a flush (send_batch.cc). */
export const FLUSH_WRITABLE = 1;
export const FLUSH_MIGRATING = 2;
export const FLUSH_REFUSED = 4;

/** One client's place in the batch. */
export class SendLane {
  /** Index among this batch's clients; -1 when it has no record in it. */
  slot = -1;
  /** Upper bound of the bytes its records in the batch will queue. */
  pendingBytes = 0;
  /** The native queued bytes as of the last flush: an upper bound of them now (only sends add). */
  knownQueued = 0;
  /** The last flush's FLUSH_* flags. */
  flags = 0;

  constructor(readonly onFlushed: (flags: number) => void) {}
}

export class SendBatch {
  private bytes = new Uint8Array(64 * 1024);
  private words = new Uint32Array(this.bytes.buffer);
  private length = 0;
  private lanes: SendLane[] = [];
  private spare: SendLane[] | undefined = [];
  private out = new Float64Array(64);
  private scheduled = false;
  private readonly flushTask = (): void => {
    this.scheduled = false;
    try {
      this.flush();
    } catch (err) {
      // Thrown as queueMicrotask would have: an uncaught exception, not a rejected promise.
      process.nextTick(() => {
        throw err;
      });
    }
  };

  constructor(private readonly native: NativeAddon) {}

  /** Queues one request; id must fit in 32 bits (see canBatch). */
  append(lane: SendLane, id: number, ver: number, cmd: number, payload: Uint8Array): void {
    const len = payload.byteLength;
    const size = HEADER + ((len + 3) & ~3);
    if (this.length + size > this.bytes.length) this.makeRoom(size);
    if (lane.slot < 0) {
      lane.slot = this.lanes.length;
      this.lanes.push(lane);
      if (2 * this.lanes.length > this.out.length) this.out = new Float64Array(this.out.length * 2);
    }
    const w = this.length >>> 2;
    const words = this.words;
    words[w] = id;
    words[w + 1] = ver | (cmd << 8);
    words[w + 2] = len;
    words[w + 3] = lane.slot;
    if (len > 0) this.bytes.set(payload, this.length + HEADER);
    this.length += size;
    lane.pendingBytes += len + PACKET_OVERHEAD;
    if (!this.scheduled) {
      this.scheduled = true;
      void resolved.then(this.flushTask);
    }
  }

  /** True while records wait for the flush. */
  get pending(): boolean {
    return this.length > 0;
  }

  /** Hands every queued record to the addon now (the microtask then finds nothing). */
  flush(): void {
    if (this.length === 0) return;
    const lanes = this.lanes;
    const length = this.length;
    this.lanes = this.spare ?? [];
    this.spare = undefined;  // a flush from a callback below gets its own array
    this.length = 0;
    const out = this.out;
    try {
      this.native.sendBatch(this.bytes, length, out);
    } finally {
      for (let i = 0; i < lanes.length; i++) {
        const lane = lanes[i];
        lane.slot = -1;
        lane.pendingBytes = 0;
        lane.knownQueued = out[2 * i + 1];
        lane.flags = out[2 * i];
      }
      // Reported after every lane is reset: a callback may send again (a new batch).
      for (let i = 0; i < lanes.length; i++) lanes[i].onFlushed(lanes[i].flags);
      lanes.length = 0;
      this.spare = lanes;
    }
  }

  private makeRoom(size: number): void {
    if (this.length > 0 && this.length + size > FLUSH_AT) {
      this.flush();
      if (size <= this.bytes.length) return;
    }
    let cap = this.bytes.length * 2;
    while (cap < this.length + size) cap *= 2;
    const bytes = new Uint8Array(cap);
    bytes.set(this.bytes.subarray(0, this.length));
    this.bytes = bytes;
    this.words = new Uint32Array(bytes.buffer);
  }
}

let batch: SendBatch | undefined;

/** This environment's batch (module state is per environment, like the addon's). */
export function sendBatch(native: NativeAddon): SendBatch {
  batch ??= new SendBatch(native);
  return batch;
}
