import { describe, expect, it } from 'vitest';
import {
  encodeAckRecords,
  encodeDatagram,
  Flag,
  isParsed,
  isTerminate,
  parseClientAckRecords,
  parseDatagram,
  parseServerAckRecords,
  seqAdd,
  seqCompare,
  TERMINATE,
} from '../src/protocol/rudp';

const SID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('transport header', () => {
  it('writes the sequence as uint24 little-endian, then the flag', () => {
    expect(encodeDatagram(0x123456, Flag.DAT, Buffer.from([9])).toString('hex')).toBe('5634120309');
    expect(encodeDatagram(0, Flag.SYN, SID).subarray(0, 4).toString('hex')).toBe('00000002');
    expect(encodeDatagram(0x1000001, Flag.ACK).toString('hex')).toBe('01000004');
  });

  it('parses what it writes and rejects short or unknown-flag datagrams', () => {
    const d = parseDatagram(encodeDatagram(0xabcdef, Flag.RDAT, Buffer.from('hi')));
    expect(isParsed(d) && d.seq === 0xabcdef && d.flag === Flag.RDAT && d.body.toString() === 'hi').toBe(true);
    expect(parseDatagram(Buffer.from([1, 2, 3]))).toEqual({ error: 'truncated' });
    expect(parseDatagram(Buffer.from([0, 0, 0, 8]))).toEqual({ error: 'unknown-flag' });
    expect(parseDatagram(Buffer.from([0, 0, 0, 0]))).toEqual({ error: 'unknown-flag' });
  });

  it('recognises the terminate datagram 0D 0E 0A 0D only as exactly those 4 bytes', () => {
    expect(TERMINATE.toString('hex')).toBe('0d0e0a0d');
    expect(isTerminate(Buffer.from('0d0e0a0d', 'hex'))).toBe(true);
    expect(isTerminate(Buffer.from('0d0e0a0d00', 'hex'))).toBe(false);
    expect(isParsed(parseDatagram(TERMINATE))).toBe(false);
  });
});

describe('serial numbers modulo 2^24', () => {
  it('compares across the wrap with half the space ahead', () => {
    expect(seqCompare(5, 3)).toBeGreaterThan(0);
    expect(seqCompare(3, 5)).toBeLessThan(0);
    expect(seqCompare(0, 0xffffff)).toBe(1);
    expect(seqCompare(0xffffff, 0)).toBe(-1);
    expect(seqCompare(0x7fffff, 0)).toBeGreaterThan(0);
    expect(seqCompare(0x800001, 0)).toBeLessThan(0);
    expect(seqAdd(0xffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffe, 5)).toBe(3);
  });
});

describe('ACK/RACK records', () => {
  it('client records are header || SID (20 bytes), several per datagram', () => {
    const d = encodeAckRecords(
      [
        { seq: 7, flag: Flag.ACK },
        { seq: 0x010203, flag: Flag.RACK },
      ],
      SID,
    );
    expect(d.length).toBe(40);
    expect(d.subarray(0, 4).toString('hex')).toBe('07000004');
    expect(d.subarray(4, 20).equals(SID)).toBe(true);
    expect(d.subarray(20, 24).toString('hex')).toBe('03020106');
    const recs = parseClientAckRecords(d);
    expect(recs?.map((r) => [r.seq, r.flag, r.sid.equals(SID)])).toEqual([
      [7, Flag.ACK, true],
      [0x010203, Flag.RACK, true],
    ]);
  });

  it('server records are the 4-byte header only', () => {
    const d = encodeAckRecords([
      { seq: 1, flag: Flag.ACK },
      { seq: 2, flag: Flag.RACK },
    ]);
    expect(d.toString('hex')).toBe('0100000402000006');
    expect(parseServerAckRecords(d)).toEqual([
      { seq: 1, flag: Flag.ACK },
      { seq: 2, flag: Flag.RACK },
    ]);
  });

  it('rejects a ragged length or a record that is not ACK/RACK', () => {
    expect(parseClientAckRecords(Buffer.alloc(19))).toBeNull();
    expect(parseClientAckRecords(Buffer.alloc(0))).toBeNull();
    const mixed = Buffer.concat([encodeAckRecords([{ seq: 1, flag: Flag.ACK }], SID), encodeDatagram(2, Flag.DAT, SID)]);
    expect(parseClientAckRecords(mixed)).toBeNull();
    expect(parseServerAckRecords(Buffer.from('010000040200', 'hex'))).toBeNull();
    expect(parseServerAckRecords(Buffer.from('01000003', 'hex'))).toBeNull();
  });
});
