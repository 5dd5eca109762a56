/**
 * Which session a datagram is for (PROTOCOL.md section 4): the SID sits in the body of SYN and FIN,
 * in every ACK/RACK record from a client, and after the request header of DAT/RDAT/UDP bodies.
 * The terminate datagram carries no SID: it is routed by the bound address.
 */
import { MAGIC, REQUEST_HEADER_SIZE, SID_SIZE, toHex, UDP_MAX_DATAGRAM_BODY, type DropReason } from '../protocol';
import {
  CLIENT_ACK_RECORD_SIZE,
  ClientAckRecord,
  Datagram,
  Flag,
  isParsed,
  isTerminate,
  parseClientAckRecords,
  parseDatagram,
  TRANSPORT_HEADER_SIZE,
} from '../protocol/rudp';

export type Routed =
  | { kind: 'terminate' }
  | { kind: 'acks'; sid: string; records: ClientAckRecord[] }
  | { kind: 'datagram'; sid: string; d: Datagram }
  | { kind: 'drop'; reason: DropReason };

function hasMagic(b: Buffer): boolean {
  return b[0] === MAGIC[0] && b[1] === MAGIC[1] && b[2] === MAGIC[2] && b[3] === MAGIC[3];
}

/** Every record of a client's ACK datagram carries the first record's SID (compared in place). */
function sameSids(msg: Buffer): boolean {
  for (let o = CLIENT_ACK_RECORD_SIZE; o < msg.length; o += CLIENT_ACK_RECORD_SIZE) {
    for (let i = TRANSPORT_HEADER_SIZE; i < CLIENT_ACK_RECORD_SIZE; i++) if (msg[o + i] !== msg[i]) return false;
  }
  return true;
}

export function routeDatagram(msg: Buffer): Routed {
  if (isTerminate(msg)) return { kind: 'terminate' };
  const d = parseDatagram(msg);
  if (!isParsed(d)) return { kind: 'drop', reason: d.error };
  if (d.body.length > UDP_MAX_DATAGRAM_BODY) return { kind: 'drop', reason: 'too-large' };
  switch (d.flag) {
    case Flag.SYN:
    case Flag.FIN:
      if (d.body.length !== SID_SIZE) return { kind: 'drop', reason: 'bad-body' };
      return { kind: 'datagram', sid: toHex(d.body), d };
    case Flag.ACK:
    case Flag.RACK: {
      const records = parseClientAckRecords(msg);
      if (records === null) return { kind: 'drop', reason: 'bad-body' };
      // One datagram, one session: records for several SIDs would be a forgery.
      if (!sameSids(msg)) return { kind: 'drop', reason: 'bad-body' };
      return { kind: 'acks', sid: toHex(records[0].sid), records };
    }
    default: {
      const b = d.body;
      if (b.length < REQUEST_HEADER_SIZE + SID_SIZE) return { kind: 'drop', reason: 'truncated' };
      if (!hasMagic(b)) return { kind: 'drop', reason: 'bad-magic' };
      return { kind: 'datagram', sid: b.toString('hex', REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + SID_SIZE), d };
    }
  }
}
