/**
 * Synchronous argument checks shared by the clients: bad arguments throw a
 * DiarkisError ('invalid-argument' / 'payload-too-large') before anything is sent.
 */
import { DiarkisError, isDiarkisErrorCode } from './errors';

export function invalid(message: string): DiarkisError {
  return new DiarkisError('invalid-argument', message);
}

export function checkInt(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in ${min}..${max}, got ${describe(value)}`);
  }
  return value;
}

export function checkPositive(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalid(`${name} must be a finite number in ${min}..${max}, got ${describe(value)}`);
  }
  return value;
}

/** undefined -> an empty payload; anything but a Uint8Array (Buffer included) throws. */
export function checkPayload(value: unknown, maxPayload: number): Uint8Array {
  if (value === undefined) return EMPTY;
  if (!(value instanceof Uint8Array)) {
    throw invalid(`payload must be a Uint8Array or Buffer, got ${describe(value)}`);
  }
  if (value.byteLength > maxPayload) {
    throw new DiarkisError(
      'payload-too-large',
      `payload of ${value.byteLength} bytes exceeds maxPayload (${maxPayload} bytes)`,
    );
  }
  return value;
}

const EMPTY = new Uint8Array(0);

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${String(value)}`;
}

/** A native exception (which carries a `code`) as a DiarkisError. */
export function fromNative(err: unknown): DiarkisError {
  if (err instanceof DiarkisError) return err;
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string' && isDiarkisErrorCode(code)) return new DiarkisError(code, err.message);
    // Every deliberate native error carries a code: one without is a std:: exception
    // (bad_alloc, a crypto failure) that NODE_ADDON_API_CPP_EXCEPTIONS_ALL turned into an Error.
    return new DiarkisError('internal-error', err.message);
  }
  return new DiarkisError('internal-error', String(err));
}
