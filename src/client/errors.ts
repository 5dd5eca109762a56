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
  'invalid-argument': 'An argument has the wrong type or is out of range',
  'not-connected': 'The client is not connected (closed or never connected)',
  'endpoint-unavailable': 'The endpoint API has no node to hand out (HTTP 503)',
  'endpoint-error': 'The endpoint API failed or answered something unusable',
  unauthorized: 'The endpoint API refused the client key (HTTP 401)',
  'internal-error': 'An unexpected failure inside the library (a bug: please report it)',
  'addon-unavailable': 'The native library could not be loaded',
} as const;

export type DiarkisErrorCode = keyof typeof ERROR_CODES;

export function isDiarkisErrorCode(code: string): code is DiarkisErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export class DiarkisError extends Error {
  readonly code: DiarkisErrorCode;
  /** Extra data some errors carry (e.g. what a failed migration had not sent). */
  readonly details?: Record<string, unknown>;

  constructor(code: DiarkisErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERROR_CODES[code]);
    this.name = 'DiarkisError';
    this.code = code;
    if (details !== undefined) this.details = details;
  }
}
