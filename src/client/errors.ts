import type { AddonUnavailableDetails } from './addon-loader';
import type { MigrationFailureDetails } from './types';

/**
 * The one table of error codes: CAPI.md's numbered table, also native/include/diarkis/errors.h and
 * bindings/c/include/diarkis.h (test/error-codes.test.ts fails when they disagree).
 * Every DiarkisError and every `disconnect` reason carries one of these.
 */
export const ERROR_CODES = {
  refused: 'The node refused the connection or the session',
  'connect-timeout': 'The connection (socket and first heartbeat/handshake) did not complete in time',
  timeout: 'The peer stopped answering (heartbeats, echoes, retransmits or a request timeout)',
  'closed-by-server': 'The server closed the connection',
  'closed-by-user': 'close() or destroy() was called',
  'server-shutdown': 'The node shut down (its shutdown timeout ran out)',
  kicked: 'The server removed this session',
  'protocol-error': 'The peer sent bytes that break the wire format',
  'bad-mac': 'A packet failed authentication and was dropped (counted, not fatal)',
  'payload-too-large': 'The payload exceeds the maximum packet size',
  'queue-full': 'The send queue is full',
  'no-target': 'No node could take the migrating session',
  'migration-failed': 'The migration could not be completed',
  'network-error': 'A socket error (reset, unreachable, ...)',
  'internal-error': 'The client library hit an internal failure (out of memory, a crypto library error); that client was disconnected, the others go on',
  'invalid-argument': 'An argument has the wrong type or is out of range',
  'not-connected': 'The client is not connected (closed or never connected)',
  'endpoint-unavailable': 'The endpoint API has no node to hand out (HTTP 503)',
  'endpoint-error': 'The endpoint API failed or answered something unusable',
  unauthorized: 'The endpoint API refused the client key (HTTP 401)',
  'addon-unavailable': 'No native addon loads on this platform (details name what was tried and how to build it)',
  'room-migration-timeout': "The room did not migrate within the handoff TTL: the client migrated alone and left the room",
  'not-owner': 'Only the room owner may do this (room.migrate())',
  'not-in-room': 'The client is not in a room',
  'already-in-room': 'The client is in a room already (a user is in one room at most)',
  'room-not-found': 'No room has this id (it may have migrated under a new id)',
  'room-full': 'The room has maxMembers members',
  'room-busy': 'The room is migrating or its node is not offline (room.migrate())',
  'receive-stalled': 'The application took no events for maxReceiveStallMs while reading was paused at receiveHighWaterMark (a blocked JavaScript thread, an unpolled C context)',
} as const;

export type DiarkisErrorCode = keyof typeof ERROR_CODES;

export function isDiarkisErrorCode(code: string): code is DiarkisErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/**
 * What `err.details` holds, per code. 'addon-unavailable' always names what the loader tried.
 * Any other code carries MigrationFailureDetails exactly when the error rejected sendMigrate()
 * (the disconnect that ended a migration names the code), and nothing otherwise.
 */
export interface DiarkisErrorDetailsMap {
  'addon-unavailable': AddonUnavailableDetails;
}

export type DiarkisErrorDetails<C extends DiarkisErrorCode> = C extends keyof DiarkisErrorDetailsMap
  ? DiarkisErrorDetailsMap[C]
  : MigrationFailureDetails | undefined;

class DiarkisErrorImpl extends Error {
  readonly code: DiarkisErrorCode;
  readonly details?: unknown;

  constructor(code: DiarkisErrorCode, message?: string, details?: unknown) {
    super(message ?? ERROR_CODES[code]);
    this.name = 'DiarkisError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}

/** A DiarkisError whose `code` is C, with `details` typed for it. */
export interface DiarkisErrorOf<C extends DiarkisErrorCode> extends Error {
  readonly name: 'DiarkisError' | string;
  readonly code: C;
  /** Extra data some errors carry (e.g. what a failed migration had not sent). */
  readonly details: DiarkisErrorDetails<C>;
}

/** One member per code in C, so `err.code === 'migration-failed'` narrows `err.details`. */
export type DiarkisErrorFor<C extends DiarkisErrorCode> = C extends DiarkisErrorCode ? DiarkisErrorOf<C> : never;
export type DiarkisError = DiarkisErrorFor<DiarkisErrorCode>;

export interface DiarkisErrorConstructor {
  new <C extends DiarkisErrorCode>(code: C, message?: string, details?: DiarkisErrorDetails<C>): DiarkisErrorFor<C>;
  /** What `instanceof DiarkisError` narrows to: the union, so a check of `code` narrows further. */
  readonly prototype: DiarkisError;
}

/**
 * `err instanceof DiarkisError && err.code === 'addon-unavailable'` gives `err.details.tried`
 * its type in strict TypeScript (the constructor's `prototype` is the union of all codes).
 */
export const DiarkisError: DiarkisErrorConstructor = DiarkisErrorImpl as unknown as DiarkisErrorConstructor;
