/**
 * The contract of the server side of one UDP session (server-session.ts): its states, why it
 * ends, its options and the handler through which everything comes out.
 */
import type { DropReason } from '../constants';
import type { SessionCrypto } from '../crypto';
import type { FinReason } from '../ours';
import type { PeerAddr } from './address';
import type { RetryOptions } from './reliable';

export type SessionState = 'waiting' | 'bound' | 'closing' | 'fin-sent' | 'closed';
/**
 * Why a session ended: a Fin reason, the client's FIN/terminate, a quiet close without a Fin push
 * ('migrated' after a migration answer, 'ended' when the caller already sent its own Fin push), or
 * 'protocol-error': the client broke the in-order stream (a bad fragment), which cannot be
 * resynchronised; the session ends at once with the terminate datagram.
 */
export type SessionEndReason = FinReason | 'closed-by-client' | 'migrated' | 'ended' | 'protocol-error';

export interface ServerSessionOptions extends RetryOptions {
  sid: Buffer;
  crypto: SessionCrypto;
  maxPayload?: number;
  /** Drop a bound client that sent nothing for this long (wire default 10 s). */
  connectionTtlMs?: number;
  /** Lifetime of a half-open handshake record. */
  handshakeTtlMs?: number;
  /** Half-open handshakes held for this SID; the oldest is forgotten beyond it. */
  maxHandshakes?: number;
  sendWindow?: number;
  receiveWindow?: number;
  /** Resends of the server's FIN before giving up on its ACK. */
  finRetries?: number;
  /** Source of the random initial sequence (tests pass a fixed one). */
  random24?: () => number;
  /** True while the session may be bound only by a migration claim (asked at each pre-bind DAT). */
  requireClaim?: () => boolean;
  /**
   * ACK datagrams are paced, at most one per this many ms: records after a quiet time leave at the
   * flush of their turn, later ones wait for the pace (default 0: every flush sends them);
   * `ackEvery` records waiting send them at once.
   */
  ackDelayMs?: number;
  ackEvery?: number;
}

export interface ServerSessionHandler {
  send(datagram: Buffer, to: PeerAddr): void;
  /**
   * An authenticated request: reliable ones in order exactly once, unreliable ones as they come.
   * `body` is the handler's own (never a view into a datagram): it may be kept.
   */
  request(ver: number, cmd: number, body: Buffer, reliable: boolean): void;
  drop(reason: DropReason): void;
  bound?(to: PeerAddr): void;
  closed(reason: SessionEndReason): void;
  /** A well-formed, authenticated claim from `from`: answer with acceptClaim() or refuseClaim(). */
  claim?(ticket: Buffer, from: PeerAddr): void;
  /** A pre-bind attempt refused here (a Fin 'refused' and FIN already went to `from`). */
  refused?(detail: string, from: PeerAddr): void;
}
