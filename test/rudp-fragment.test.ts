import { describe, expect, it } from 'vitest';
import { encodeRequest, FRAGMENT_CHUNK_MAX, parseRequest } from '../src/protocol';
import { Fragmenter, isFragment, maxFragmentCount, Reassembler } from '../src/protocol/rudp';

const SID = Buffer.alloc(16, 7);

function packet(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31) & 0xff;
  return b;
}

function chunk(id: number, index: number, count: number, bytes: Buffer): Buffer {
  const h = Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0, 0, 0, 0, 0, 0]);
  h.writeInt16BE(id, 4);
  h.writeInt16BE(index, 6);
  h.writeInt16BE(count, 8);
  return Buffer.concat([h, bytes]);
}

describe('Fragmenter', () => {
  it('leaves a packet of at most 1300 bytes whole', () => {
    const p = packet(FRAGMENT_CHUNK_MAX);
    expect(new Fragmenter().split(p)).toEqual([p]);
  });

  it('cuts a larger packet into 1300-byte chunks with the magic, id, index and count', () => {
    const chunks = new Fragmenter().split(packet(3000));
    expect(chunks.length).toBe(3);
    chunks.forEach((c, i) => {
      expect(isFragment(c)).toBe(true);
      expect(c.readInt16BE(4)).toBe(0);
      expect(c.readInt16BE(6)).toBe(i);
      expect(c.readInt16BE(8)).toBe(3);
    });
    expect(chunks.map((c) => c.length - 10)).toEqual([1300, 1300, 400]);
  });

  it('counts ids from 0 and wraps from 32767 to 0', () => {
    const f = new Fragmenter();
    const ids: number[] = [];
    for (let i = 0; i < 32770; i++) ids.push(f.split(packet(1301))[0].readInt16BE(4));
    expect(ids.slice(0, 3)).toEqual([0, 1, 2]);
    expect(ids.slice(32766, 32770)).toEqual([32766, 32767, 0, 1]);
  });

  it('wraps client chunks as request header || SID || chunk with the same ver/cmd', () => {
    const req = encodeRequest(2, 9, SID, packet(2000));
    const parts = new Fragmenter().splitRequest(req, 2, 9, SID);
    expect(parts.length).toBe(2);
    for (const p of parts) {
      const r = parseRequest(p);
      expect(r.kind).toBe('ok');
      if (r.kind !== 'ok') continue;
      expect([r.packet.ver, r.packet.cmd]).toEqual([2, 9]);
      expect(r.packet.payload.subarray(0, 16).equals(SID)).toBe(true);
      expect(isFragment(r.packet.payload, 16)).toBe(true);
      // Client chunk datagram bodies stay within the 1400 bytes a receiver accepts.
      expect(p.length).toBeLessThanOrEqual(1400);
    }
  });
});

describe('Reassembler', () => {
  it('reassembles chunks in order, one message after another', () => {
    const f = new Fragmenter();
    const r = new Reassembler();
    for (const n of [5000, 1301, 2600]) {
      const chunks = f.split(packet(n));
      const results = chunks.map((c) => r.feed(c));
      expect(results.slice(0, -1).every((x) => x.kind === 'pending')).toBe(true);
      const last = results[results.length - 1];
      expect(last.kind === 'complete' && last.packet.equals(packet(n))).toBe(true);
      expect(r.heldBytes).toBe(0);
      expect(r.pendingMessages).toBe(0);
    }
  });

  it('a chunk of another id before the message completed, or out of order, is rejected and frees all', () => {
    const f = new Fragmenter();
    const a = f.split(packet(2000));
    const b = f.split(packet(2600));
    const r = new Reassembler();
    expect(r.feed(a[0]).kind).toBe('pending');
    expect(r.feed(b[0])).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.heldBytes).toBe(0);
    expect(r.feed(b[1])).toEqual({ kind: 'rejected', reason: 'bad-fragment' }); // no message starts at index 1
    const c = f.split(packet(4000));
    expect(r.feed(c[0]).kind).toBe('pending');
    expect(r.feed(c[2])).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.pendingMessages).toBe(0);
  });

  it('the fragment-start flood of issue 11 never holds more than one chunk', () => {
    const r = new Reassembler();
    for (let id = 0; id < 30_000; id++) {
      r.feed(chunk(id, 0, 807, Buffer.alloc(11)));
      expect(r.heldBytes).toBeLessThanOrEqual(11);
    }
  });

  it('rejects an index out of range, a bad count, a changed count, a duplicate and junk', () => {
    const r = new Reassembler({ maxPayload: 10_000 });
    const bytes = Buffer.alloc(100, 1);
    expect(r.feed(chunk(1, 3, 3, bytes))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(chunk(1, -1, 3, bytes))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(chunk(1, 0, 0, bytes))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(chunk(-5, 0, 2, bytes))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    const tooMany = maxFragmentCount(10_000) + 1;
    expect(r.feed(chunk(1, 0, tooMany, bytes))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(chunk(1, 0, 3, bytes)).kind).toBe('pending');
    expect(r.feed(chunk(1, 1, 4, bytes))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(chunk(1, 0, 3, bytes)).kind).toBe('pending');
    // A repeated index is dropped as a duplicate; it adds nothing and the message stays open.
    expect(r.feed(chunk(1, 0, 3, bytes))).toEqual({ kind: 'rejected', reason: 'duplicate' });
    expect(r.heldBytes).toBe(100);
    expect(r.feed(chunk(1, 1, 3, bytes)).kind).toBe('pending');
    expect(r.feed(chunk(1, 2, 3, bytes)).kind).toBe('complete');
    expect(r.feed(chunk(1, 0, 3, Buffer.alloc(0)))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(chunk(1, 0, 3, Buffer.alloc(1301)))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(Buffer.from('fffefdfc0000', 'hex'))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    expect(r.feed(Buffer.from('00112233445566778899', 'hex'))).toEqual({ kind: 'rejected', reason: 'bad-fragment' });
    // A whole message still goes through afterwards.
    for (const i of [0, 1]) expect(r.feed(chunk(1, i, 3, bytes)).kind).toBe('pending');
    expect(r.feed(chunk(1, 2, 3, bytes)).kind).toBe('complete');
  });

  it('bounds one message by the maximum packet', () => {
    const r = new Reassembler({ maxPayload: 3000 });
    const big = Buffer.alloc(1300, 2);
    // count 3 passes the count check (ceil(3011 / 1300)); 3 x 1300 bytes does not fit.
    expect(r.feed(chunk(1, 0, 3, big)).kind).toBe('pending');
    expect(r.feed(chunk(1, 1, 3, big)).kind).toBe('pending');
    expect(r.heldBytes).toBe(2600);
    expect(r.feed(chunk(1, 2, 3, big))).toEqual({ kind: 'rejected', reason: 'too-large' });
    expect(r.heldBytes).toBe(0);
  });
});
