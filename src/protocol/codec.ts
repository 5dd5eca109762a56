/**
 * Command packet codec (PROTOCOL.md section 1) and TCP stream reassembly.
 *
 * Parsed payloads are views (subarray) into the bytes given: no copy. A caller that keeps a payload
 * beyond the current turn while the source buffer may be reused must copy it (Buffer.from).
 */
import {
  DEFAULT_MAX_PAYLOAD,
  DropReason,
  isValidStatus,
  MAGIC,
  MAX_LENGTH_24,
  REQUEST_HEADER_SIZE,
  RESPONSE_HEADER_SIZE,
} from './constants';

export interface RequestPacket {
  ver: number;
  cmd: number;
  /** SID || secure(body), or SID || body with encryption off. */
  payload: Buffer;
}

export interface ResponsePacket {
  ver: number;
  cmd: number;
  status: number;
  /** secure(body), or body with encryption off. */
  payload: Buffer;
}

export type ParseResult<P> =
  | { kind: 'ok'; packet: P; consumed: number }
  | { kind: 'need-more' }
  | { kind: 'error'; reason: DropReason };

const NEED_MORE = { kind: 'need-more' } as const;
const EMPTY = Buffer.alloc(0);

function checkHeaderArgs(ver: number, cmd: number, len: number): void {
  if (!Number.isInteger(ver) || ver < 0 || ver > 0xff) throw new RangeError(`ver out of range: ${ver}`);
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xffff) throw new RangeError(`cmd out of range: ${cmd}`);
  if (len > MAX_LENGTH_24) throw new RangeError(`payload too large for the uint24 length: ${len}`);
}

function writeCommon(buf: Buffer, offset: number, ver: number, cmd: number, len: number): void {
  buf[offset] = MAGIC[0];
  buf[offset + 1] = MAGIC[1];
  buf[offset + 2] = MAGIC[2];
  buf[offset + 3] = MAGIC[3];
  buf[offset + 4] = ver;
  buf.writeUIntBE(len, offset + 5, 3);
  buf.writeUInt16BE(cmd, offset + 8);
}

/** Writes a 10-byte request header at `offset` (for callers that reserved headroom). */
export function writeRequestHeader(buf: Buffer, offset: number, ver: number, cmd: number, len: number): void {
  checkHeaderArgs(ver, cmd, len);
  writeCommon(buf, offset, ver, cmd, len);
}

/** Writes an 11-byte response/push header at `offset`. */
export function writeResponseHeader(
  buf: Buffer,
  offset: number,
  ver: number,
  cmd: number,
  status: number,
  len: number,
): void {
  checkHeaderArgs(ver, cmd, len);
  if (!isValidStatus(status)) throw new RangeError(`bad status: ${status}`);
  writeCommon(buf, offset, ver, cmd, len);
  buf[offset + 10] = status;
}

function totalLength(parts: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

function copyParts(out: Buffer, offset: number, parts: readonly Uint8Array[]): void {
  let o = offset;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
}

/** Encodes a request whose payload is the concatenation of `parts` (e.g. [sid, secured]). */
export function encodeRequest(ver: number, cmd: number, ...parts: Uint8Array[]): Buffer {
  const len = totalLength(parts);
  checkHeaderArgs(ver, cmd, len);
  const out = Buffer.allocUnsafe(REQUEST_HEADER_SIZE + len);
  writeCommon(out, 0, ver, cmd, len);
  copyParts(out, REQUEST_HEADER_SIZE, parts);
  return out;
}

export function encodeResponse(ver: number, cmd: number, status: number, ...parts: Uint8Array[]): Buffer {
  const len = totalLength(parts);
  const out = Buffer.allocUnsafe(RESPONSE_HEADER_SIZE + len);
  writeResponseHeader(out, 0, ver, cmd, status, len);
  copyParts(out, RESPONSE_HEADER_SIZE, parts);
  return out;
}

function badMagic(buf: Buffer, offset: number, avail: number): boolean {
  // Check the bytes present so far: a bad prefix is an error before the header is complete.
  const n = avail < 4 ? avail : 4;
  for (let i = 0; i < n; i++) if (buf[offset + i] !== MAGIC[i]) return true;
  return false;
}

/** Parses one request at `offset` of `buf[..end)`. */
export function parseRequest(
  buf: Buffer,
  offset = 0,
  maxPayload: number = DEFAULT_MAX_PAYLOAD,
  end: number = buf.length,
): ParseResult<RequestPacket> {
  const avail = end - offset;
  if (badMagic(buf, offset, avail)) return { kind: 'error', reason: 'bad-magic' };
  if (avail < 8) return NEED_MORE;
  const len = buf.readUIntBE(offset + 5, 3);
  if (len > maxPayload) return { kind: 'error', reason: 'too-large' };
  if (avail < REQUEST_HEADER_SIZE + len) return NEED_MORE;
  const start = offset + REQUEST_HEADER_SIZE;
  return {
    kind: 'ok',
    packet: { ver: buf[offset + 4], cmd: buf.readUInt16BE(offset + 8), payload: buf.subarray(start, start + len) },
    consumed: REQUEST_HEADER_SIZE + len,
  };
}

/** Parses one response or push at `offset` of `buf[..end)`. */
export function parseResponse(
  buf: Buffer,
  offset = 0,
  maxPayload: number = DEFAULT_MAX_PAYLOAD,
  end: number = buf.length,
): ParseResult<ResponsePacket> {
  const avail = end - offset;
  if (badMagic(buf, offset, avail)) return { kind: 'error', reason: 'bad-magic' };
  if (avail < 8) return NEED_MORE;
  const len = buf.readUIntBE(offset + 5, 3);
  if (len > maxPayload) return { kind: 'error', reason: 'too-large' };
  if (avail < RESPONSE_HEADER_SIZE) return NEED_MORE;
  const status = buf[offset + 10];
  if (!isValidStatus(status)) return { kind: 'error', reason: 'bad-status' };
  if (avail < RESPONSE_HEADER_SIZE + len) return NEED_MORE;
  const start = offset + RESPONSE_HEADER_SIZE;
  return {
    kind: 'ok',
    packet: {
      ver: buf[offset + 4],
      cmd: buf.readUInt16BE(offset + 8),
      status,
      payload: buf.subarray(start, start + len),
    },
    consumed: RESPONSE_HEADER_SIZE + len,
  };
}

/**
 * Parses every packet of one datagram (or any complete buffer). A trailing partial packet is
 * reported as 'truncated'; packets before an error are still returned.
 */
export function parseAllResponses(
  buf: Buffer,
  maxPayload: number = DEFAULT_MAX_PAYLOAD,
): { packets: ResponsePacket[]; error: DropReason | null } {
  const packets: ResponsePacket[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = parseResponse(buf, off, maxPayload);
    if (r.kind === 'ok') {
      packets.push(r.packet);
      off += r.consumed;
    } else return { packets, error: r.kind === 'error' ? r.reason : 'truncated' };
  }
  return { packets, error: null };
}

type Parser<P> = (buf: Buffer, offset: number, maxPayload: number, end: number) => ParseResult<P>;

/**
 * Reassembles packets from a TCP byte stream split anywhere, many packets per chunk.
 * An error is sticky: a stream with a bad header cannot be resynchronised.
 *
 * Copies only bytes that must outlive a chunk (a partial packet). Returned payloads are views into
 * either the fed chunk or an internal buffer that is never overwritten once handed out (a new one
 * is allocated rather than compacting), so they stay valid.
 */
export class StreamReassembler<P> {
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** True when `buf` is ours and bytes past `end` may be written. */
  private owned = false;
  private err: DropReason | null = null;

  constructor(
    private readonly parser: Parser<P>,
    private readonly maxPayload: number = DEFAULT_MAX_PAYLOAD,
  ) {}

  static forRequests(maxPayload?: number): StreamReassembler<RequestPacket> {
    return new StreamReassembler<RequestPacket>(parseRequest, maxPayload);
  }

  static forResponses(maxPayload?: number): StreamReassembler<ResponsePacket> {
    return new StreamReassembler<ResponsePacket>(parseResponse, maxPayload);
  }

  get error(): DropReason | null {
    return this.err;
  }

  get buffered(): number {
    return this.end - this.start;
  }

  feed(chunk: Buffer): void {
    if (this.err !== null || chunk.length === 0) return;
    const pending = this.end - this.start;
    if (pending === 0) {
      // Nothing held: parse straight out of the chunk.
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.buf.length - this.end >= chunk.length) {
      chunk.copy(this.buf, this.end);
      this.end += chunk.length;
      return;
    }
    const need = pending + chunk.length;
    const nb = Buffer.allocUnsafe(Math.max(need, this.wanted(), 2 * pending, 4096));
    this.buf.copy(nb, 0, this.start, this.end);
    chunk.copy(nb, pending);
    this.buf = nb;
    this.start = 0;
    this.end = need;
    this.owned = true;
  }

  /** Size of the packet being assembled when its header is known (so one allocation fits it). */
  private wanted(): number {
    if (this.end - this.start < 8) return 0;
    const len = this.buf.readUIntBE(this.start + 5, 3);
    return len <= this.maxPayload ? len + RESPONSE_HEADER_SIZE : 0;
  }

  /** The next complete packet, 'need-more', or the (sticky) error. */
  next(): ParseResult<P> {
    if (this.err !== null) return { kind: 'error', reason: this.err };
    if (this.start === this.end) return NEED_MORE;
    const r = this.parser(this.buf, this.start, this.maxPayload, this.end);
    if (r.kind === 'ok') {
      this.start += r.consumed;
      if (this.start === this.end) this.release();
    } else if (r.kind === 'error') {
      this.err = r.reason;
      this.release();
    }
    return r;
  }

  /** Call at end of stream: a partial packet left over is 'truncated'. */
  finish(): DropReason | null {
    if (this.err === null && this.end > this.start) {
      this.err = 'truncated';
      this.release();
    }
    return this.err;
  }

  private release(): void {
    this.buf = EMPTY;
    this.start = 0;
    this.end = 0;
    this.owned = false;
  }
}
