/** Wire constants of PROTOCOL.md that are publicly documented. "(ours)" choices are in ours.ts. */
export { DEFAULT_MAX_PAYLOAD } from './ours';

export const MAGIC: readonly number[] = [0xfe, 0xbe, 0xde, 0xef];
export const REQUEST_HEADER_SIZE = 10;
export const RESPONSE_HEADER_SIZE = 11;
/** Largest value the uint24 length field can carry. */
export const MAX_LENGTH_24 = 0xffffff;
export const SID_SIZE = 16;
export const KEY_SIZE = 16;
export const MAC_SIZE = 32;
/** secure(body) = uint32 plaintextLength || HMAC (32) || C. */
export const SECURE_HEADER_SIZE = 4 + MAC_SIZE;
export const AES_BLOCK = 16;

export const Status = { Ok: 1, Bad: 4, Err: 5, Push: 0xff } as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export function isValidStatus(s: number): s is StatusCode {
  return s === 1 || s === 4 || s === 5 || s === 0xff;
}

export const VER_BUILTIN = 0;
/** ver 0 and 1 are reserved for built-ins and modules; applications use ver >= 2. */
export const FIRST_APP_VER = 2;

export const BuiltinCmd = {
  Fin: 0,
  KeepAlive: 1,
  Reconn: 2,
  Ping: 3,
  ClientKey: 4,
  Notification: 400,
  DebugOnline: 900,
  DebugTaken: 901,
  DebugOffline: 902,
  DebugTerminate: 903,
} as const;

export type NodeState = 'online' | 'taken' | 'offline';

/** State byte in heartbeat/echo answers and the offline notice. */
export const NodeStateByte: Readonly<Record<NodeState, number>> = { online: 1, offline: 2, taken: 3 };

export function nodeStateFromByte(b: number): NodeState | null {
  if (b === 1) return 'online';
  if (b === 2) return 'offline';
  if (b === 3) return 'taken';
  return null;
}

/** Wire defaults. */
export const DEFAULT_HEARTBEAT_MS = 5000;
export const DEFAULT_CONNECTION_TTL_MS = 10_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
export const RUDP_RETRY_MIN_MS = 1000;
export const RUDP_RETRY_MAX_MS = 8000;
export const RUDP_MAX_RETRIES = 10;
export const FRAGMENT_MAGIC: readonly number[] = [0xff, 0xfe, 0xfd, 0xfc];
export const FRAGMENT_CHUNK_MAX = 1300;

/**
 * Why an incoming packet was dropped; the same strings as DIARKIS_DROP_REASONS in
 * native/include/diarkis/errors.h.
 */
export const DROP_REASONS = [
  'bad-magic',
  'too-large',
  'truncated',
  'bad-mac',
  'bad-secure',
  'bad-status',
  'bad-body',
  'duplicate',
  'out-of-window',
  'bad-fragment',
  'foreign-address',
  'unknown-flag',
  'unexpected',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export function emptyDropCounts(): Record<DropReason, number> {
  const out = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) out[r] = 0;
  return out;
}
