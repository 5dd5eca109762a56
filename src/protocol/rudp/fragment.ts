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
  SID_SIZE,
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

export interface ReassemblerOptions {
  maxPayload?: number;
}

/**
 * Reassembles one message at a time (issue 11). The chunks of a message are consecutive DATs
 * delivered in order (PROTOCOL section 4), so a chunk must continue the open message (same id and
 * count, the next index) or, with none open, start one at index 0; a repeat of an earlier chunk
 * is dropped ('duplicate'). Anything else is rejected ('bad-fragment'; 'too-large' past the
 * maximum packet) and discards the open message: the caller should end the connection, the
 * in-order stream cannot be resynchronised. Memory is one message, growing with the bytes
 * received (nothing is sized from the peer's count). Never throws.
 */
export class Reassembler {
  private parts: Buffer[] = [];
  private held = 0;
  private open: { id: number; count: number; next: number } | null = null;
  private readonly maxCount: number;
  private readonly maxBytes: number;

  constructor(opts: ReassemblerOptions = {}) {
    const maxPayload = opts.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxCount = Math.min(FRAGMENT_ID_MAX, maxFragmentCount(maxPayload));
    this.maxBytes = maxPayload + RESPONSE_HEADER_SIZE + SID_SIZE;
  }

  get heldBytes(): number {
    return this.held;
  }

  get pendingMessages(): number {
    return this.open === null ? 0 : 1;
  }

  /** Feeds one chunk (starting with the fragment magic). */
  feed(chunk: Buffer): ReassembleResult {
    if (!isFragment(chunk) || chunk.length < FRAGMENT_HEADER_SIZE) return this.reject('bad-fragment');
    const id = chunk.readInt16BE(4);
    const index = chunk.readInt16BE(6);
    const count = chunk.readInt16BE(8);
    const bytes = chunk.subarray(FRAGMENT_HEADER_SIZE);
    if (id < 0 || count < 1 || count > this.maxCount || index < 0 || index >= count) return this.reject('bad-fragment');
    if (bytes.length === 0 || bytes.length > FRAGMENT_CHUNK_MAX) return this.reject('bad-fragment');
    const o = this.open;
    // A repeated chunk of the open message adds nothing: dropped and counted, the message stays.
    if (o !== null && id === o.id && count === o.count && index < o.next) return { kind: 'rejected', reason: 'duplicate' };
    if (o === null ? index !== 0 : id !== o.id || count !== o.count || index !== o.next) return this.reject('bad-fragment');
    if (this.held + bytes.length > this.maxBytes) return this.reject('too-large');
    if (count === 1) return { kind: 'complete', packet: Buffer.from(bytes) };
    // Copy: the datagram buffer is not ours to keep.
    this.parts.push(Buffer.from(bytes));
    this.held += bytes.length;
    if (o === null) {
      this.open = { id, count, next: 1 };
      return { kind: 'pending' };
    }
    if (++o.next < count) return { kind: 'pending' };
    const packet = Buffer.concat(this.parts, this.held);
    this.clear();
    return { kind: 'complete', packet };
  }

  clear(): void {
    this.parts = [];
    this.held = 0;
    this.open = null;
  }

  private reject(reason: DropReason): ReassembleResult {
    this.clear();
    return { kind: 'rejected', reason };
  }
}
