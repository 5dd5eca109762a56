/**
 * Which session a datagram is for (PROTOCOL.md section 4): the SID sits in the body of SYN and FIN,
 * in every ACK/RACK record from a client, and after the request header of DAT/RDAT/UDP bodies.
 * The terminate datagram carries no SID: it is routed by the bound address.
 */
import { MAGIC, REQUEST_HEADER_SIZE, SID_SIZE, toHex, UDP_MAX_DATAGRAM_BODY, type DropReason } from '../protocol';
import {
  ClientAckRecord,
  Datagram,
  Flag,
  isParsed,
  isTerminate,
  parseClientAckRecords,
  parseDatagram,
} from '../protocol/rudp';

export type Routed =
  | { kind: 'terminate' }
  | { kind: 'acks'; sid: string; records: ClientAckRecord[] }
  | { kind: 'datagram'; sid: string; d: Datagram }
  | { kind: 'drop'; reason: DropReason };

function hasMagic(b: Buffer): boolean {
  return b[0] === MAGIC[0] && b[1] === MAGIC[1] && b[2] === MAGIC[2] && b[3] === MAGIC[3];
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
      const sid = records[0].sid;
      // One datagram, one session: records for several SIDs would be a forgery.
      if (!records.every((r) => r.sid.equals(sid))) return { kind: 'drop', reason: 'bad-body' };
      return { kind: 'acks', sid: toHex(sid), records };
    }
    default: {
      const b = d.body;
      if (b.length < REQUEST_HEADER_SIZE + SID_SIZE) return { kind: 'drop', reason: 'truncated' };
      if (!hasMagic(b)) return { kind: 'drop', reason: 'bad-magic' };
      return { kind: 'datagram', sid: toHex(b.subarray(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + SID_SIZE)), d };
    }
  }
}
