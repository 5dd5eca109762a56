/**
 * PROTOCOL section 10 (ours, ver 1): room command ids, the JSON bodies, the broadcast push body and
 * the Bad answers, in one place.
 */
import type { JsonObject, JsonValue } from '../types';

export const VER_ROOM = 1;

export const RoomCmd = {
  Create: 1,
  Join: 2,
  Leave: 3,
  Broadcast: 4,
  Info: 5,
  SetProps: 6,
  Migrate: 7,
  OwnerChanged: 8,
} as const;

/** Codes of a Bad (status 4) answer, body {"error": code}. */
export type RoomErrorCode =
  | 'bad-request'
  | 'already-in-room'
  | 'not-in-room'
  | 'not-found'
  | 'room-full'
  | 'not-owner'
  | 'migrating'
  | 'not-offline'
  | 'no-target';

/** Largest maxMembers a create accepts, and largest props body (bytes of JSON). */
export const ROOM_MAX_MEMBERS = 1000;
export const ROOM_MAX_PROPS_BYTES = 64 * 1024;
/** PROTOCOL 10.2: the node starts the room's migration itself if the owner has not within this. */
export const DEFAULT_ROOM_MIGRATION_GRACE_MS = 5000;

export function json(v: JsonValue): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

export function roomError(code: RoomErrorCode): { status: number; payload: Buffer } {
  return { status: 4, payload: json({ error: code }) };
}

/** The body as a JSON object, or null (counted as bad-request by the caller). */
export function parseObject(body: Buffer): JsonObject | null {
  if (body.length === 0 || body.length > ROOM_MAX_PROPS_BYTES) return null;
  try {
    const v = JSON.parse(body.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : null;
  } catch {
    return null;
  }
}

/** A 1/1 body: {maxMembers, props?}; null = bad-request. */
export function parseCreate(body: Buffer): { maxMembers: number; props: JsonObject } | null {
  const req = parseObject(body);
  const max = req?.maxMembers;
  if (req === null || typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > ROOM_MAX_MEMBERS) return null;
  const props = req.props ?? {};
  if (typeof props !== 'object' || props === null || Array.isArray(props)) return null;
  return { maxMembers: max, props };
}

/** A 1/2 body: {roomId}; null = bad-request. */
export function parseJoin(body: Buffer): string | null {
  const req = parseObject(body);
  return req === null || typeof req.roomId !== 'string' ? null : req.roomId;
}

/** A 1/6 body: {props}; null = bad-request. */
export function parseProps(body: Buffer): JsonObject | null {
  const props = parseObject(body)?.props;
  return typeof props !== 'object' || props === null || Array.isArray(props) ? null : props;
}

/** Props merged with a change, or null when the result exceeds ROOM_MAX_PROPS_BYTES. */
export function mergeProps(props: JsonObject, change: JsonObject): JsonObject | null {
  const merged = { ...props, ...change };
  // Bounded: every member gets the whole set with each change.
  return json(merged).length > ROOM_MAX_PROPS_BYTES ? null : merged;
}

/** 1/4 push body: uidLen:uint8 || uid || bytes. Uids longer than 255 bytes cannot broadcast. */
export function encodeBroadcast(uid: string, bytes: Buffer): Buffer | null {
  const u = Buffer.from(uid, 'utf8');
  if (u.length > 255) return null;
  const out = Buffer.allocUnsafe(1 + u.length + bytes.length);
  out[0] = u.length;
  u.copy(out, 1);
  bytes.copy(out, 1 + u.length);
  return out;
}
