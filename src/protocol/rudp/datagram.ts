/**
 * RUDP transport header and control datagrams (PROTOCOL.md section 4).
 *
 * Every datagram starts with seq:uint24 LITTLE-endian || flag:uint8. ACK/RACK datagrams are lists of
 * records: 20 bytes from the client (header || SID), 4 bytes from the server (header only).
 */
import { DropReason, SID_SIZE } from '../constants';

export const Flag = { UDP: 1, SYN: 2, DAT: 3, ACK: 4, RDAT: 5, RACK: 6, FIN: 7 } as const;
export type FlagCode = (typeof Flag)[keyof typeof Flag];

export const TRANSPORT_HEADER_SIZE = 4;
export const SEQ_MOD = 1 << 24;
export const SEQ_MASK = SEQ_MOD - 1;
const SEQ_HALF = 1 << 23;

/** Raw datagram from the server: the server ended the connection. */
export const TERMINATE: Buffer = Buffer.from([0x0d, 0x0e, 0x0a, 0x0d]);

export function isTerminate(d: Uint8Array): boolean {
  return d.length === 4 && d[0] === 0x0d && d[1] === 0x0e && d[2] === 0x0a && d[3] === 0x0d;
}

export function isFlag(f: number): f is FlagCode {
  return f >= 1 && f <= 7;
}

export interface Datagram {
  seq: number;
  flag: FlagCode;
  /** Bytes after the 4-byte header (a view). */
  body: Buffer;
}

export function writeTransportHeader(buf: Buffer, offset: number, seq: number, flag: FlagCode): void {
  const s = seq & SEQ_MASK;
  buf[offset] = s & 0xff;
  buf[offset + 1] = (s >>> 8) & 0xff;
  buf[offset + 2] = (s >>> 16) & 0xff;
  buf[offset + 3] = flag;
}

export function encodeDatagram(seq: number, flag: FlagCode, body?: Uint8Array): Buffer {
  const n = body === undefined ? 0 : body.length;
  const out = Buffer.allocUnsafe(TRANSPORT_HEADER_SIZE + n);
  writeTransportHeader(out, 0, seq, flag);
  if (body !== undefined) out.set(body, TRANSPORT_HEADER_SIZE);
  return out;
}

/** The header and body of a datagram, or why it is not one. The terminate datagram is not parsed here. */
export function parseDatagram(d: Buffer): Datagram | { error: DropReason } {
  if (d.length < TRANSPORT_HEADER_SIZE) return { error: 'truncated' };
  const flag = d[3];
  if (!isFlag(flag)) return { error: 'unknown-flag' };
  return { seq: d[0] | (d[1] << 8) | (d[2] << 16), flag, body: d.subarray(TRANSPORT_HEADER_SIZE) };
}

export function isParsed(r: Datagram | { error: DropReason }): r is Datagram {
  return !('error' in r);
}

// ---- serial numbers modulo 2^24 (ours: half the space ahead) ----

export function seqAdd(a: number, n: number): number {
  return (a + n) & SEQ_MASK;
}

/** (a - b) as a signed distance in (-2^23, 2^23]. */
export function seqDiff(a: number, b: number): number {
  const d = (a - b) & SEQ_MASK;
  return d > SEQ_HALF ? d - SEQ_MOD : d;
}

/** Negative when a is before b, 0 when equal, positive when a is after b. */
export function seqCompare(a: number, b: number): number {
  return seqDiff(a, b);
}

// ---- ACK / RACK records ----

export interface AckRecord {
  seq: number;
  flag: typeof Flag.ACK | typeof Flag.RACK;
}

export const CLIENT_ACK_RECORD_SIZE = TRANSPORT_HEADER_SIZE + SID_SIZE;
export const SERVER_ACK_RECORD_SIZE = TRANSPORT_HEADER_SIZE;

/** One datagram of records; with `sid` (client side) each record is header || SID. */
export function encodeAckRecords(records: readonly AckRecord[], sid?: Uint8Array): Buffer {
  const size = sid === undefined ? SERVER_ACK_RECORD_SIZE : CLIENT_ACK_RECORD_SIZE;
  if (sid !== undefined && sid.length !== SID_SIZE) throw new RangeError('SID must be 16 bytes');
  const out = Buffer.allocUnsafe(records.length * size);
  records.forEach((r, i) => {
    writeTransportHeader(out, i * size, r.seq, r.flag);
    if (sid !== undefined) out.set(sid, i * size + TRANSPORT_HEADER_SIZE);
  });
  return out;
}

export interface ClientAckRecord extends AckRecord {
  sid: Buffer;
}

/**
 * Records of a whole datagram from a client. null when the length is not a multiple of 20 or a
 * record is not ACK/RACK ("records and nothing else").
 */
export function parseClientAckRecords(d: Buffer): ClientAckRecord[] | null {
  if (d.length === 0 || d.length % CLIENT_ACK_RECORD_SIZE !== 0) return null;
  const out: ClientAckRecord[] = [];
  for (let o = 0; o < d.length; o += CLIENT_ACK_RECORD_SIZE) {
    const flag = d[o + 3];
    if (flag !== Flag.ACK && flag !== Flag.RACK) return null;
    out.push({
      seq: d[o] | (d[o + 1] << 8) | (d[o + 2] << 16),
      flag,
      sid: d.subarray(o + TRANSPORT_HEADER_SIZE, o + CLIENT_ACK_RECORD_SIZE),
    });
  }
  return out;
}

/** Records of a whole datagram from the server (4 bytes each); null when malformed. */
export function parseServerAckRecords(d: Buffer): AckRecord[] | null {
  if (d.length === 0 || d.length % SERVER_ACK_RECORD_SIZE !== 0) return null;
  const out: AckRecord[] = [];
  for (let o = 0; o < d.length; o += SERVER_ACK_RECORD_SIZE) {
    const flag = d[o + 3];
    if (flag !== Flag.ACK && flag !== Flag.RACK) return null;
    out.push({ seq: d[o] | (d[o + 1] << 8) | (d[o + 2] << 16), flag });
  }
  return out;
}
