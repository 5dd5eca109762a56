/**
 * Fragments of reliable command packets (PROTOCOL.md section 4, "Fragments").
 *
 * chunk = FF FE FD FC || id:int16 || index:int16 || count:int16 || bytes (at most 1300 bytes of the
 * encoded packet). Client -> server chunks travel wrapped as request header || SID || chunk.
 */
import { encodeRequest } from '../codec';
import {
  DEFAULT_MAX_PAYLOAD,
  DropReason,
  FRAGMENT_CHUNK_MAX,
  FRAGMENT_MAGIC,
  RESPONSE_HEADER_SIZE,
} from '../constants';

export const FRAGMENT_HEADER_SIZE = 10;
/** (ours) ids count from 0 and wrap from 32767 to 0. */
export const FRAGMENT_ID_MAX = 32767;

export function isFragment(b: Uint8Array, offset = 0): boolean {
  return (
    b.length - offset >= 4 &&
    b[offset] === FRAGMENT_MAGIC[0] &&
    b[offset + 1] === FRAGMENT_MAGIC[1] &&
    b[offset + 2] === FRAGMENT_MAGIC[2] &&
    b[offset + 3] === FRAGMENT_MAGIC[3]
  );
}

/** Largest `count` a receiver accepts for a given maximum payload (header + payload in 1300-byte chunks). */
export function maxFragmentCount(maxPayload: number, chunkMax = FRAGMENT_CHUNK_MAX): number {
  return Math.ceil((RESPONSE_HEADER_SIZE + maxPayload) / chunkMax);
}

/** Cuts encoded packets into chunks; one instance per connection and direction (it owns the ids). */
export class Fragmenter {
  private nextId = 0;

  constructor(private readonly chunkMax = FRAGMENT_CHUNK_MAX) {}

  /** `packet` itself when it fits, otherwise its chunks in order. */
  split(packet: Buffer): Buffer[] {
    if (packet.length <= this.chunkMax) return [packet];
    const count = Math.ceil(packet.length / this.chunkMax);
    if (count > FRAGMENT_ID_MAX) throw new RangeError('packet too large to fragment');
    const id = this.nextId;
    this.nextId = id === FRAGMENT_ID_MAX ? 0 : id + 1;
    const out: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const part = packet.subarray(i * this.chunkMax, Math.min(packet.length, (i + 1) * this.chunkMax));
      const c = Buffer.allocUnsafe(FRAGMENT_HEADER_SIZE + part.length);
      c.set(FRAGMENT_MAGIC, 0);
      c.writeInt16BE(id, 4);
      c.writeInt16BE(i, 6);
      c.writeInt16BE(count, 8);
      c.set(part, FRAGMENT_HEADER_SIZE);
      out.push(c);
    }
    return out;
  }

  /** Client -> server: each chunk as the payload of a request with the packet's ver/cmd, after the SID. */
  splitRequest(packet: Buffer, ver: number, cmd: number, sid: Uint8Array): Buffer[] {
    const chunks = this.split(packet);
    if (chunks.length === 1) return chunks;
    return chunks.map((c) => encodeRequest(ver, cmd, sid, c));
  }
}

export type ReassembleResult =
  | { kind: 'complete'; packet: Buffer }
  | { kind: 'pending' }
  | { kind: 'rejected'; reason: DropReason };

interface Assembly {
  count: number;
  parts: (Buffer | undefined)[];
  received: number;
  bytes: number;
}

export interface ReassemblerOptions {
  maxPayload?: number;
  /** Bytes held across all unfinished messages (default: two maximum packets). */
  maxHeldBytes?: number;
  /** Unfinished messages held at once; the oldest is dropped beyond it. */
  maxAssemblies?: number;
}

/** Reassembles chunks by id. Bounded in bytes and in messages; rejections are reported, never thrown. */
export class Reassembler {
  private readonly asm = new Map<number, Assembly>();
  private held = 0;
  private readonly maxCount: number;
  private readonly maxHeld: number;
  private readonly maxAssemblies: number;

  constructor(opts: ReassemblerOptions = {}) {
    const maxPayload = opts.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxCount = Math.min(FRAGMENT_ID_MAX, maxFragmentCount(maxPayload));
    this.maxHeld = opts.maxHeldBytes ?? 2 * (maxPayload + RESPONSE_HEADER_SIZE);
    this.maxAssemblies = opts.maxAssemblies ?? 8;
  }

  get heldBytes(): number {
    return this.held;
  }

  get pendingMessages(): number {
    return this.asm.size;
  }

  /** Feeds one chunk (starting with the fragment magic). */
  feed(chunk: Buffer): ReassembleResult {
    if (!isFragment(chunk) || chunk.length < FRAGMENT_HEADER_SIZE) return { kind: 'rejected', reason: 'bad-fragment' };
    const id = chunk.readInt16BE(4);
    const index = chunk.readInt16BE(6);
    const count = chunk.readInt16BE(8);
    const bytes = chunk.subarray(FRAGMENT_HEADER_SIZE);
    if (id < 0 || count < 1 || count > this.maxCount || index < 0 || index >= count) {
      return { kind: 'rejected', reason: 'bad-fragment' };
    }
    if (bytes.length === 0 || bytes.length > FRAGMENT_CHUNK_MAX) return { kind: 'rejected', reason: 'bad-fragment' };
    let a = this.asm.get(id);
    if (a === undefined) {
      if (count === 1) return { kind: 'complete', packet: Buffer.from(bytes) };
      while (this.asm.size >= this.maxAssemblies) this.dropOldest();
      a = { count, parts: new Array<Buffer | undefined>(count), received: 0, bytes: 0 };
      this.asm.set(id, a);
    } else if (a.count !== count) return { kind: 'rejected', reason: 'bad-fragment' };
    if (a.parts[index] !== undefined) return { kind: 'rejected', reason: 'duplicate' };
    if (this.held + bytes.length > this.maxHeld) return { kind: 'rejected', reason: 'too-large' };
    // Copy: the datagram buffer is not ours to keep.
    a.parts[index] = Buffer.from(bytes);
    a.received++;
    a.bytes += bytes.length;
    this.held += bytes.length;
    if (a.received < a.count) return { kind: 'pending' };
    this.asm.delete(id);
    this.held -= a.bytes;
    return { kind: 'complete', packet: Buffer.concat(a.parts as Buffer[], a.bytes) };
  }

  clear(): void {
    this.asm.clear();
    this.held = 0;
  }

  private dropOldest(): void {
    const first = this.asm.entries().next();
    if (first.done === true) return;
    const [id, a] = first.value;
    this.held -= a.bytes;
    this.asm.delete(id);
  }
}
