/**
 * What the server side of a UDP session checks before a peer is trusted (PROTOCOL.md sections 4,
 * 5, 7.6): that request packets carry the session's SID and open with its keys, whether a pre-bind
 * DAT is a wrapped chunk of this session, whether the first DAT at a migration target is a
 * well-formed claim, and the datagrams that refuse a handshake. Pure functions of the bytes and
 * the session's SID/keys; ServerSession (server-session.ts) keeps all state.
 */
import { encodeResponse, parseRequest, RequestPacket } from '../codec';
import { BuiltinCmd, DropReason, SID_SIZE, Status, VER_BUILTIN } from '../constants';
import { isOpenError, SessionCrypto } from '../crypto';
import { encodeFin } from '../keepalive';
import { TICKET_SIZE } from '../ours';
import { encodeDatagram, Flag } from './datagram';
import { isFragment } from './fragment';

/** The session's identity, as the checks need it. */
export interface SessionAuth {
  sid: Buffer;
  crypto: SessionCrypto;
  maxPayload: number;
}

export function checkSid(p: RequestPacket, sid: Buffer): DropReason | null {
  const b = p.payload;
  if (b.length < SID_SIZE) return 'truncated';
  // Byte by byte: per request, cheaper than a view and a call into C++.
  for (let i = 0; i < SID_SIZE; i++) if (b[i] !== sid[i]) return 'unexpected';
  return null;
}

/** null when every request in the DAT body carries this SID and opens with the session keys. */
export function authenticate(body: Buffer, a: SessionAuth): DropReason | null {
  let off = 0;
  if (body.length === 0) return 'truncated';
  while (off < body.length) {
    const r = parseRequest(body, off, a.maxPayload);
    if (r.kind === 'need-more') return 'truncated';
    if (r.kind === 'error') return r.reason;
    const bad = checkSid(r.packet, a.sid);
    if (bad !== null) return bad;
    const secured = r.packet.payload.subarray(SID_SIZE);
    // A chunk is not encrypted on its own, so it cannot prove who sent it.
    if (isFragment(secured)) return 'unexpected';
    const opened = a.crypto.open(secured);
    if (isOpenError(opened)) return opened.error;
    off += r.consumed;
  }
  return null;
}

/** A DAT body that is a wrapped chunk (request header || this SID || chunk). */
export function isOwnChunk(body: Buffer, a: SessionAuth): boolean {
  const r = parseRequest(body, 0, a.maxPayload);
  return r.kind === 'ok' && r.consumed === body.length && isFragment(r.packet.payload, SID_SIZE) && checkSid(r.packet, a.sid) === null;
}

/** The verdict on a claim DAT: its ticket, or a refusal (with the drop to count, if any). */
export type ClaimCheck = { kind: 'ticket'; ticket: Buffer } | { kind: 'refuse'; drop: DropReason | null; detail: string };

/** The first DAT at a migration target must be exactly one authenticated ver 0 cmd 2 with a ticket. */
export function checkClaim(body: Buffer, a: SessionAuth): ClaimCheck {
  const r = parseRequest(body, 0, a.maxPayload);
  if (r.kind !== 'ok' || r.consumed !== body.length || checkSid(r.packet, a.sid) !== null) {
    return { kind: 'refuse', drop: r.kind === 'error' ? r.reason : 'unexpected', detail: 'claim:unauthenticated' };
  }
  const opened = a.crypto.open(r.packet.payload.subarray(SID_SIZE));
  if (isOpenError(opened)) return { kind: 'refuse', drop: opened.error, detail: 'claim:unauthenticated' };
  if (r.packet.ver !== VER_BUILTIN || r.packet.cmd !== BuiltinCmd.Reconn) {
    return { kind: 'refuse', drop: null, detail: 'request-before-claim' };
  }
  if (opened.length !== TICKET_SIZE) return { kind: 'refuse', drop: 'bad-body', detail: 'claim:bad-ticket' };
  return { kind: 'ticket', ticket: Buffer.from(opened) };
}

/** The Fin push 'refused' (sealed with the session keys) as DAT S and RDAT S, then FIN. */
export function refusalDatagrams(seq: number, crypto: SessionCrypto): Buffer[] {
  const fin = encodeResponse(VER_BUILTIN, BuiltinCmd.Fin, Status.Push, crypto.seal(encodeFin('refused')));
  return [encodeDatagram(seq, Flag.DAT, fin), encodeDatagram(seq, Flag.RDAT, fin), encodeDatagram(0, Flag.FIN)];
}
