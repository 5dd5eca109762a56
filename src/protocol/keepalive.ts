/** Keepalive bodies (PROTOCOL.md sections 3, 5, 7.1): heartbeat, its answer, offline notice, Fin. */
import { NodeState, NodeStateByte, nodeStateFromByte } from './constants';
import { FinReason, OFFLINE_NOTICE_TS } from './ours';

/** Heartbeat request body: timestamp (ms) as float64 little-endian. */
export function encodeHeartbeat(tsMs: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleLE(tsMs, 0);
  return b;
}

/** The timestamp of a heartbeat body, or null when shorter than 8 bytes (extra bytes are ignored). */
export function decodeHeartbeat(body: Buffer): number | null {
  return body.length < 8 ? null : body.readDoubleLE(0);
}

export interface HeartbeatAnswer {
  state: NodeState;
  ts: number;
}

/** Answer body: state:uint8 || echoed timestamp float64 LE. */
export function encodeHeartbeatAnswer(state: NodeState, tsMs: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b[0] = NodeStateByte[state];
  b.writeDoubleLE(tsMs, 1);
  return b;
}

/** null for a short body or an unknown state byte. */
export function decodeHeartbeatAnswer(body: Buffer): HeartbeatAnswer | null {
  if (body.length < 9) return null;
  const state = nodeStateFromByte(body[0]);
  return state === null ? null : { state, ts: body.readDoubleLE(1) };
}

/** Body of the offline notice push (ver 0 cmd 1, status 0xFF). */
export function encodeOfflineNotice(): Buffer {
  return encodeHeartbeatAnswer('offline', OFFLINE_NOTICE_TS);
}

/** Body of the Fin push (ver 0 cmd 0, status 0xFF): the UTF-8 reason code. */
export function encodeFin(reason: FinReason): Buffer {
  return Buffer.from(reason, 'utf8');
}

export function decodeFin(body: Buffer): string {
  return body.toString('utf8');
}
