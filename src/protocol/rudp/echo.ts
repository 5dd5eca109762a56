/**
 * UDP keepalive (echo) bodies, PROTOCOL.md section 4 "Keepalive (echo)".
 *
 * request  = timestamp:float64 LE || (len:int32 || UTF-8 "ip:port")*
 * answer   = state:uint8 || timestamp:float64 LE || address || notifications || addressEnd:uint16
 * notification = len:uint16 (incl. its 5-byte header) || ver:uint8 || cmd:uint16 || payload
 */
import { NodeState, NodeStateByte, nodeStateFromByte } from '../constants';

export interface EchoRequest {
  ts: number;
  localAddresses: string[];
}

export interface EchoNotification {
  ver: number;
  cmd: number;
  payload: Buffer;
}

export interface EchoAnswer {
  state: NodeState;
  ts: number;
  address: string;
  notifications: EchoNotification[];
}

export function encodeEchoRequest(ts: number, localAddresses: readonly string[] = []): Buffer {
  const parts = localAddresses.map((a) => Buffer.from(a, 'utf8'));
  const out = Buffer.allocUnsafe(8 + parts.reduce((n, p) => n + 4 + p.length, 0));
  out.writeDoubleLE(ts, 0);
  let o = 8;
  for (const p of parts) {
    out.writeInt32BE(p.length, o);
    out.set(p, o + 4);
    o += 4 + p.length;
  }
  return out;
}

/** null when shorter than the timestamp or when an address entry runs past the end. */
export function decodeEchoRequest(body: Buffer): EchoRequest | null {
  if (body.length < 8) return null;
  const ts = body.readDoubleLE(0);
  const localAddresses: string[] = [];
  let o = 8;
  while (o < body.length) {
    if (body.length - o < 4) return null;
    const n = body.readInt32BE(o);
    if (n < 0 || n > body.length - o - 4) return null;
    localAddresses.push(body.toString('utf8', o + 4, o + 4 + n));
    o += 4 + n;
  }
  return { ts, localAddresses };
}

export const NOTIFICATION_HEADER_SIZE = 5;

export function encodeEchoAnswer(
  state: NodeState,
  ts: number,
  address: string,
  notifications: readonly EchoNotification[] = [],
): Buffer {
  const addr = Buffer.from(address, 'utf8');
  const notes = notifications.map((n) => {
    const len = NOTIFICATION_HEADER_SIZE + n.payload.length;
    if (len > 0xffff) throw new RangeError('notification too large');
    const b = Buffer.allocUnsafe(len);
    b.writeUInt16BE(len, 0);
    b[2] = n.ver;
    b.writeUInt16BE(n.cmd, 3);
    b.set(n.payload, NOTIFICATION_HEADER_SIZE);
    return b;
  });
  const addressEnd = 9 + addr.length;
  const total = addressEnd + notes.reduce((s, b) => s + b.length, 0) + 2;
  if (addressEnd > 0xffff) throw new RangeError('address too long');
  const out = Buffer.allocUnsafe(total);
  out[0] = NodeStateByte[state];
  out.writeDoubleLE(ts, 1);
  out.set(addr, 9);
  let o = addressEnd;
  for (const b of notes) {
    out.set(b, o);
    o += b.length;
  }
  out.writeUInt16BE(addressEnd, o);
  return out;
}

/** null when the body breaks the layout (short, unknown state, addressEnd out of range, bad notification). */
export function decodeEchoAnswer(body: Buffer): EchoAnswer | null {
  if (body.length < 11) return null;
  const state = nodeStateFromByte(body[0]);
  if (state === null) return null;
  const ts = body.readDoubleLE(1);
  const end = body.length - 2;
  const addressEnd = body.readUInt16BE(end);
  if (addressEnd < 9) return null;
  const address = body.toString('utf8', 9, Math.min(addressEnd, end));
  const notifications: EchoNotification[] = [];
  let o = addressEnd;
  while (o < end) {
    if (end - o < NOTIFICATION_HEADER_SIZE) return null;
    const len = body.readUInt16BE(o);
    if (len < NOTIFICATION_HEADER_SIZE || len > end - o) return null;
    notifications.push({
      ver: body[o + 2],
      cmd: body.readUInt16BE(o + 3),
      payload: body.subarray(o + NOTIFICATION_HEADER_SIZE, o + len),
    });
    o += len;
  }
  return { state, ts, address, notifications };
}
