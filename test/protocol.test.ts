import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decodeFin,
  decodeHeartbeat,
  decodeHeartbeatAnswer,
  encodeFin,
  encodeHeartbeat,
  encodeHeartbeatAnswer,
  encodeOfflineNotice,
  encodeRequest,
  encodeResponse,
  fromHex,
  isOpenError,
  parseAllResponses,
  parseRequest,
  parseResponse,
  RequestPacket,
  ResponsePacket,
  SessionCrypto,
  StreamReassembler,
  toHex,
} from '../src/protocol';

function rows(file: string): string[][] {
  return readFileSync(join(__dirname, 'vectors', file), 'utf8')
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('#'))
    .map((l) => l.split('\t'));
}
const hex = (s: string): Buffer => (s === '-' ? Buffer.alloc(0) : Buffer.from(s, 'hex'));

const secureRows = rows('secure.tsv');
const packetRows = rows('packets.tsv');
const requestRows = rows('requests.tsv');

function cryptoOf(key: string, iv: string, mac: string): SessionCrypto {
  return new SessionCrypto({ key: fromHex(key), iv: fromHex(iv), macKey: fromHex(mac) });
}

describe('golden vectors: secure(body)', () => {
  it('has vectors', () => expect(secureRows.length).toBeGreaterThanOrEqual(8));
  for (const [name, key, iv, mac, body, secured] of secureRows) {
    it(`${name}: seal byte for byte, open back`, () => {
      const c = cryptoOf(key, iv, mac);
      expect(toHex(c.seal(hex(body)))).toBe(hex(secured).toString('hex'));
      expect(c.sealedLength(hex(body).length)).toBe(hex(secured).length);
      const opened = c.open(hex(secured));
      expect(isOpenError(opened)).toBe(false);
      expect(Buffer.from(opened as Buffer).equals(hex(body))).toBe(true);
    });
  }

  it('one SessionCrypto stays exact across many seals and opens (reused contexts), bad packets do not disturb it', () => {
    const c = cryptoOf(secureRows[0][1], secureRows[0][2], secureRows[0][3]);
    const other = secureRows.map((r) => hex(r[4]));
    for (let round = 0; round < 3; round++) {
      for (const body of other) {
        const sealed = c.seal(body);
        const forged = Buffer.from(sealed);
        forged[5] ^= 1;
        expect(c.open(forged)).toEqual({ error: 'bad-mac' });
        expect(Buffer.from(c.open(sealed) as Buffer).equals(body)).toBe(true);
      }
      expect(toHex(c.seal(hex(secureRows[0][4])))).toBe(hex(secureRows[0][5]).toString('hex'));
      expect(Buffer.from(c.open(hex(secureRows[0][5])) as Buffer).length).toBe(0);
    }
    // The caller's body is never modified.
    const body = Buffer.alloc(32, 0xab);
    c.seal(body);
    expect(body.equals(Buffer.alloc(32, 0xab))).toBe(true);
  });

  it('openAll opens the messages of one datagram in one AES call: the golden bodies, bad ones in their place', () => {
    // A golden row (four blocks), then bodies sealed here with its keys (odd, empty, many blocks).
    const row = secureRows.find((r) => r[0] === 'sixty-four') as string[];
    const c = cryptoOf(row[1], row[2], row[3]);
    const bodies = [hex(row[4]), Buffer.alloc(47, 7), Buffer.alloc(0), Buffer.alloc(300, 9)];
    const sealed = [hex(row[5]), ...bodies.slice(1).map((b) => c.seal(b))];
    const forged = Buffer.from(sealed[1]);
    forged[40] ^= 1;
    const input = [sealed[0], forged, ...sealed.slice(1), Buffer.alloc(20), sealed[0]];
    for (let round = 0; round < 2; round++) {
      const out = c.openAll(input);
      expect(out.length).toBe(input.length);
      expect(out[1]).toEqual({ error: 'bad-mac' });
      expect(out[input.length - 2]).toEqual({ error: 'bad-secure' });
      const good = out.filter((_, i) => i !== 1 && i !== input.length - 2) as Buffer[];
      expect(good.map((b) => b.toString('hex'))).toEqual([...bodies, bodies[0]].map((b) => b.toString('hex')));
      // The stream stays exact afterwards (the reused context's chaining value).
      expect(toHex(c.seal(hex(row[4])))).toBe(hex(row[5]).toString('hex'));
      expect(Buffer.from(c.open(sealed[sealed.length - 1]) as Buffer).equals(bodies[bodies.length - 1])).toBe(true);
    }
    expect(c.openAll([forged])).toEqual([{ error: 'bad-mac' }]);
    const plain = SessionCrypto.plain().openAll([Buffer.from('ab'), Buffer.from('cd')]) as Buffer[];
    expect(plain.map((b) => b.toString())).toEqual(['ab', 'cd']);
  });

  it('seal with headroom leaves the front free and the rest identical', () => {
    const [, key, iv, mac, body, secured] = secureRows[3];
    const out = cryptoOf(key, iv, mac).seal(hex(body), 26);
    expect(out.subarray(26).equals(hex(secured))).toBe(true);
  });
});

describe('golden vectors: packets', () => {
  for (const [name, kind, ver, cmd, status, payload, encoded] of packetRows) {
    it(`${name}: encode and parse`, () => {
      const enc = hex(encoded);
      if (kind === 'request') {
        expect(encodeRequest(Number(ver), Number(cmd), hex(payload)).equals(enc)).toBe(true);
        const r = parseRequest(enc);
        expect(r.kind).toBe('ok');
        if (r.kind !== 'ok') return;
        expect([r.packet.ver, r.packet.cmd, r.consumed]).toEqual([Number(ver), Number(cmd), enc.length]);
        expect(r.packet.payload.equals(hex(payload))).toBe(true);
      } else {
        expect(encodeResponse(Number(ver), Number(cmd), Number(status), hex(payload)).equals(enc)).toBe(true);
        const r = parseResponse(enc);
        expect(r.kind).toBe('ok');
        if (r.kind !== 'ok') return;
        expect([r.packet.ver, r.packet.cmd, r.packet.status, r.consumed]).toEqual([
          Number(ver),
          Number(cmd),
          Number(status),
          enc.length,
        ]);
        expect(r.packet.payload.equals(hex(payload))).toBe(true);
      }
    });
  }
});

describe('golden vectors: whole encrypted requests', () => {
  for (const [name, ver, cmd, sid, key, iv, mac, body, encoded] of requestRows) {
    it(`${name}: header || sid || secure(body)`, () => {
      const c = cryptoOf(key, iv, mac);
      const enc = hex(encoded);
      expect(encodeRequest(Number(ver), Number(cmd), hex(sid), c.seal(hex(body))).equals(enc)).toBe(true);
      const r = parseRequest(enc);
      if (r.kind !== 'ok') throw new Error('parse failed');
      expect(r.packet.payload.subarray(0, 16).equals(hex(sid))).toBe(true);
      const opened = c.open(r.packet.payload.subarray(16));
      expect(isOpenError(opened) ? opened : Buffer.from(opened).toString('hex')).toBe(hex(body).toString('hex'));
    });
  }
});

/** Every response vector back to back: one stream. */
const stream = Buffer.concat(packetRows.filter((r) => r[1] === 'response').map((r) => hex(r[6])));
const expected = packetRows.filter((r) => r[1] === 'response').map((r) => [Number(r[2]), Number(r[3]), r[5]]);

function drain(re: StreamReassembler<ResponsePacket>, out: (number | string)[][]): void {
  for (;;) {
    const r = re.next();
    if (r.kind === 'need-more') return;
    if (r.kind === 'error') throw new Error(r.reason);
    out.push([r.packet.ver, r.packet.cmd, r.packet.payload.length === 0 ? '-' : r.packet.payload.toString('hex')]);
  }
}

describe('StreamReassembler', () => {
  it('many packets in one chunk', () => {
    const re = StreamReassembler.forResponses();
    const out: (number | string)[][] = [];
    re.feed(stream);
    drain(re, out);
    expect(out).toEqual(expected);
    expect(re.buffered).toBe(0);
    expect(re.finish()).toBeNull();
  });

  it('split at every point', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const re = StreamReassembler.forResponses();
      const out: (number | string)[][] = [];
      re.feed(stream.subarray(0, cut));
      drain(re, out);
      re.feed(stream.subarray(cut));
      drain(re, out);
      expect(out).toEqual(expected);
    }
  });

  it('one byte at a time, payloads stay valid after later feeds', () => {
    const re = StreamReassembler.forResponses();
    const kept: ResponsePacket[] = [];
    for (let i = 0; i < stream.length; i++) {
      re.feed(Buffer.from([stream[i]]));
      for (let r = re.next(); r.kind === 'ok'; r = re.next()) kept.push(r.packet);
    }
    expect(kept.map((p) => [p.ver, p.cmd, p.payload.length === 0 ? '-' : p.payload.toString('hex')])).toEqual(expected);
  });

  it('a big request split in many chunks', () => {
    const big = packetRows.find((r) => r[0] === 'req-big');
    if (big === undefined) throw new Error('missing vector');
    const enc = hex(big[6]);
    const re = StreamReassembler.forRequests();
    const got: RequestPacket[] = [];
    for (let o = 0; o < enc.length; o += 1000) {
      re.feed(enc.subarray(o, o + 1000));
      for (let r = re.next(); r.kind === 'ok'; r = re.next()) got.push(r.packet);
    }
    expect(got.length).toBe(1);
    expect(got[0].payload.equals(hex(big[5]))).toBe(true);
  });

  it('errors are sticky', () => {
    const re = StreamReassembler.forResponses();
    re.feed(Buffer.from([0xfe, 0xbe, 0x00]));
    expect(re.next()).toEqual({ kind: 'error', reason: 'bad-magic' });
    re.feed(stream);
    expect(re.next()).toEqual({ kind: 'error', reason: 'bad-magic' });
    expect(re.error).toBe('bad-magic');
  });

  it('a partial packet at the end of the stream is truncated', () => {
    const re = StreamReassembler.forResponses();
    re.feed(stream.subarray(0, 25)); // res-ok is 21 bytes
    expect(re.next().kind).toBe('ok');
    expect(re.next().kind).toBe('need-more');
    expect(re.finish()).toBe('truncated');
  });
});

describe('negative inputs', () => {
  const good = encodeResponse(2, 1, 1, Buffer.from('hello'));

  it('bad magic, even on the first byte', () => {
    expect(parseResponse(Buffer.from([0x00]))).toEqual({ kind: 'error', reason: 'bad-magic' });
    const bad = Buffer.from(good);
    bad[3] = 0xee;
    expect(parseResponse(bad)).toEqual({ kind: 'error', reason: 'bad-magic' });
    expect(parseRequest(bad)).toEqual({ kind: 'error', reason: 'bad-magic' });
  });

  it('too large against the configured maximum', () => {
    const big = encodeResponse(2, 1, 1, Buffer.alloc(100));
    expect(parseResponse(big, 0, 99)).toEqual({ kind: 'error', reason: 'too-large' });
    expect(parseResponse(big, 0, 100).kind).toBe('ok');
    // Reported from the header alone, before the payload arrives.
    const hdr = Buffer.from([0xfe, 0xbe, 0xde, 0xef, 2, 0xff, 0xff, 0xff]);
    expect(parseRequest(hdr)).toEqual({ kind: 'error', reason: 'too-large' });
  });

  it('bad status', () => {
    const bad = Buffer.from(good);
    bad[10] = 2;
    expect(parseResponse(bad)).toEqual({ kind: 'error', reason: 'bad-status' });
  });

  it('truncated packets need more; in a datagram they are truncated', () => {
    for (let n = 0; n < good.length; n++) expect(parseResponse(good.subarray(0, n)).kind).toBe('need-more');
    const two = Buffer.concat([good, good.subarray(0, 12)]);
    const all = parseAllResponses(two);
    expect(all.packets.length).toBe(1);
    expect(all.error).toBe('truncated');
  });

  it('parses at an offset', () => {
    const two = Buffer.concat([good, good]);
    const r = parseResponse(two, good.length);
    expect(r.kind === 'ok' && r.packet.payload.toString()).toBe('hello');
  });

  it('encode rejects out-of-range fields', () => {
    expect(() => encodeRequest(256, 1)).toThrow(RangeError);
    expect(() => encodeRequest(2, 65536)).toThrow(RangeError);
    expect(() => encodeResponse(2, 1, 3)).toThrow(RangeError);
    expect(() => encodeRequest(2, 1, Buffer.alloc(0x1000000))).toThrow(RangeError);
  });

  const [, key, iv, mac, body, secured] = secureRows.find((r) => r[0] === 'sixty-four') ?? [];
  const c = cryptoOf(key, iv, mac);

  it('every flipped bit of the MAC or ciphertext is bad-mac', () => {
    const s = hex(secured);
    for (let i = 4; i < s.length; i++) {
      const t = Buffer.from(s);
      t[i] ^= 0x01;
      expect(c.open(t)).toEqual({ error: 'bad-mac' });
    }
  });

  it('bad lengths are bad-secure', () => {
    const s = hex(secured);
    expect(c.open(s.subarray(0, 35))).toEqual({ error: 'bad-secure' }); // no ciphertext
    expect(c.open(s.subarray(0, s.length - 1))).toEqual({ error: 'bad-secure' }); // not a block multiple
    const long = Buffer.from(s);
    long.writeUInt32BE(s.length - 36 + 1, 0); // plaintextLength beyond C
    expect(c.open(long)).toEqual({ error: 'bad-secure' });
    expect(c.open(Buffer.alloc(0))).toEqual({ error: 'bad-secure' });
  });

  it('a wrong key set fails the MAC', () => {
    const other = cryptoOf(key, iv, 'ff'.repeat(16));
    expect(other.open(hex(secured))).toEqual({ error: 'bad-mac' });
    expect(hex(body).length).toBe(64);
  });

  it('an extra zero block of padding is accepted', () => {
    // plaintextLength smaller than the padded length: any padding satisfying the rules is fine.
    const s = c.seal(Buffer.alloc(20, 7));
    const shorter = Buffer.from(s);
    shorter.writeUInt32BE(4, 0);
    expect(Buffer.from(c.open(shorter) as Buffer).equals(Buffer.alloc(4, 7))).toBe(true);
  });

  it('hex helpers validate', () => {
    expect(() => fromHex('abc')).toThrow(RangeError);
    expect(() => fromHex('zz'.repeat(16))).toThrow(RangeError);
    expect(toHex(fromHex('0f'.repeat(16)))).toBe('0f'.repeat(16));
  });

  it('unencrypted mode passes bodies through', () => {
    const p = SessionCrypto.plain();
    expect(p.encrypted).toBe(false);
    expect(p.seal(Buffer.from('abc'), 2).subarray(2).toString()).toBe('abc');
    expect((p.open(Buffer.from('xyz')) as Buffer).toString()).toBe('xyz');
  });
});

describe('keepalive bodies', () => {
  it('heartbeat and answer round trip, little-endian', () => {
    const hb = encodeHeartbeat(1234.5);
    expect(hb.equals(Buffer.from('00000000004a9340', 'hex'))).toBe(true);
    expect(decodeHeartbeat(hb)).toBe(1234.5);
    expect(decodeHeartbeat(Buffer.alloc(7))).toBeNull();
    const ans = encodeHeartbeatAnswer('taken', 99);
    expect(ans[0]).toBe(3);
    expect(decodeHeartbeatAnswer(ans)).toEqual({ state: 'taken', ts: 99 });
    expect(decodeHeartbeatAnswer(Buffer.alloc(8))).toBeNull();
    expect(decodeHeartbeatAnswer(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0]))).toBeNull();
  });

  it('offline notice and Fin', () => {
    expect(encodeOfflineNotice().toString('hex')).toBe('020000000000000000');
    expect(decodeFin(encodeFin('refused'))).toBe('refused');
  });
});
