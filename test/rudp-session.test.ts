import { describe, expect, it } from 'vitest';
import { DropReason, emptyDropCounts, encodeRequest, SessionCrypto } from '../src/protocol';
import {
  ClientSession,
  ClientEndReason,
  decodeEchoAnswer,
  encodeAckRecords,
  encodeDatagram,
  encodeEchoAnswer,
  Flag,
  Fragmenter,
  isParsed,
  isTerminate,
  parseClientAckRecords,
  parseDatagram,
  PeerAddr,
  ServerSession,
  ServerSessionOptions,
  SessionEndReason,
  TERMINATE,
} from '../src/protocol/rudp';
import { seededRandom } from './helpers/udp-proxy';

const SID = Buffer.from('0102030405060708090a0b0c0d0e0f10', 'hex');
const KEYS = { key: Buffer.alloc(16, 1), iv: Buffer.alloc(16, 2), macKey: Buffer.alloc(16, 3) };
const CLIENT: PeerAddr = { address: '10.0.0.1', port: 5000 };
const FOREIGN: PeerAddr = { address: '10.0.0.2', port: 6000 };
const S = 0x123456;

interface Sent {
  to: PeerAddr;
  d: Buffer;
}

/** A server session driven by hand-made datagrams, with everything it emits recorded. */
function serverOnly(opts: Partial<ServerSessionOptions> = {}) {
  const sent: Sent[] = [];
  const requests: { ver: number; cmd: number; body: Buffer; reliable: boolean }[] = [];
  const drops = emptyDropCounts();
  const closed: SessionEndReason[] = [];
  const crypto = new SessionCrypto(KEYS);
  const s = new ServerSession(
    { sid: SID, crypto, random24: () => S, retryMinMs: 100, retryMaxMs: 400, maxRetries: 3, ...opts },
    {
      send: (d, to) => sent.push({ d, to }),
      request: (ver, cmd, body, reliable) => requests.push({ ver, cmd, body: Buffer.from(body), reliable }),
      drop: (r: DropReason) => drops[r]++,
      closed: (r) => closed.push(r),
    },
  );
  const feed = (d: Buffer, from: PeerAddr, now: number): void => {
    if (isTerminate(d)) return s.onTerminate(from);
    const p = parseDatagram(d);
    if (!isParsed(p)) throw new Error('test sent a bad datagram');
    if (p.flag === Flag.ACK || p.flag === Flag.RACK) {
      const recs = parseClientAckRecords(d);
      if (recs === null) throw new Error('bad records');
      s.onAcks(recs, from, now);
    } else {
      s.onDatagram(p, from, now);
    }
    s.flush(now);  // the node flushes at the end of each turn
  };
  const dat = (seq: number, ver: number, cmd: number, body: Buffer, c: SessionCrypto = crypto, flag: 3 | 5 = Flag.DAT) =>
    encodeDatagram(seq, flag, encodeRequest(ver, cmd, SID, c.seal(body)));
  const flags = () => sent.map((x) => parseDatagram(x.d)).map((p) => (isParsed(p) ? [p.seq, p.flag] : ['raw']));
  return { s, sent, requests, drops, closed, feed, dat, flags, crypto };
}

/** Binds a server session to CLIENT through SYN, ACK S and one authenticated DAT. */
function bound(opts: Partial<ServerSessionOptions> = {}) {
  const t = serverOnly(opts);
  t.feed(encodeDatagram(0, Flag.SYN, SID), CLIENT, 0);
  t.feed(encodeAckRecords([{ seq: S, flag: Flag.ACK }], SID), CLIENT, 1);
  t.feed(t.dat(0, 2, 1, Buffer.from('hi')), CLIENT, 2);
  expect(t.s.state).toBe('bound');
  t.sent.length = 0;
  return t;
}

describe('ServerSession: handshake', () => {
  it('answers SYN with SYN S (empty body) and a repeated SYN with the same S', () => {
    const t = serverOnly();
    t.feed(encodeDatagram(0, Flag.SYN, SID), CLIENT, 0);
    t.feed(encodeDatagram(0, Flag.SYN, SID), CLIENT, 10);
    expect(t.sent.map((x) => x.d.toString('hex'))).toEqual(['56341202', '56341202']);
    expect(t.s.pendingHandshakes).toBe(1);
  });

  it('keeps a small bounded set of expiring handshake records', () => {
    let n = 0;
    const t = serverOnly({ maxHandshakes: 3, handshakeTtlMs: 1000, random24: () => n++ });
    for (let i = 0; i < 10; i++) t.feed(encodeDatagram(0, Flag.SYN, SID), { address: '10.1.0.1', port: 1000 + i }, 0);
    expect(t.s.pendingHandshakes).toBe(3);
    expect(t.s.nextDeadline()).toBe(1000);
    t.s.tick(1000);
    expect(t.s.pendingHandshakes).toBe(0);
    // An expired handshake cannot bind.
    t.feed(t.dat(0, 2, 1, Buffer.from('x')), { address: '10.1.0.1', port: 1009 }, 1001);
    expect(t.drops.unexpected).toBe(1);
    expect(t.s.state).toBe('waiting');
  });

  it('sends nothing reliable before the first authenticated DAT binds, then DAT S and RDAT S', () => {
    const t = serverOnly();
    t.s.sendPacket(2, 3, 0xff, Buffer.from('early push'), 0);
    t.feed(encodeDatagram(0, Flag.SYN, SID), CLIENT, 0);
    t.feed(encodeAckRecords([{ seq: S, flag: Flag.ACK }], SID), CLIENT, 1);
    expect(t.flags()).toEqual([[S, Flag.SYN]]);
    t.feed(t.dat(0, 2, 1, Buffer.from('hello')), CLIENT, 2);
    expect(t.requests).toEqual([{ ver: 2, cmd: 1, body: Buffer.from('hello'), reliable: true }]);
    expect(t.flags().slice(1)).toEqual([
      [S, Flag.DAT],
      [S, Flag.RDAT],
      [0, Flag.ACK],
    ]);
    expect(t.sent[3].d.length).toBe(4);
  });

  it('binds on an authenticated DAT even when the handshake ACK was lost', () => {
    const t = serverOnly();
    t.feed(encodeDatagram(0, Flag.SYN, SID), CLIENT, 0);
    t.feed(t.dat(0, 2, 1, Buffer.from('a')), CLIENT, 1);
    expect(t.s.state).toBe('bound');
    expect(t.s.publicAddress).toBe('10.0.0.1:5000');
  });

  it('forgets a handshake whose fragmented first message fails authentication', () => {
    const t = serverOnly();
    t.feed(encodeDatagram(0, Flag.SYN, SID), CLIENT, 0);
    const wrong = new SessionCrypto({ ...KEYS, key: Buffer.alloc(16, 9), macKey: Buffer.alloc(16, 9) });
    const req = encodeRequest(2, 1, SID, wrong.seal(Buffer.alloc(3000)));
    const chunks = new Fragmenter().splitRequest(req, 2, 1, SID);
    chunks.forEach((c, i) => t.feed(encodeDatagram(i, Flag.DAT, c), CLIENT, 1));
    expect(t.drops['bad-mac']).toBe(1);
    expect(t.s.state).toBe('waiting');
    expect(t.s.pendingHandshakes).toBe(0);
  });

  it('a packed DAT: good requests in order, a forged one and a truncated tail dropped in their place', () => {
    const t = bound();
    t.requests.length = 0;
    const wrong = new SessionCrypto({ ...KEYS, macKey: Buffer.alloc(16, 9) });
    const req = (body: string, c: SessionCrypto = t.crypto) => encodeRequest(2, 1, SID, c.seal(Buffer.from(body)));
    const packed = Buffer.concat([req('one'), req('forged', wrong), req('three, several blocks long: 0123456789abcdef'), req('four'), req('cut').subarray(0, 20)]);
    const order: string[] = [];
    const before = t.drops['bad-mac'];
    t.feed(encodeDatagram(1, Flag.DAT, packed), CLIENT, 3);
    for (const r of t.requests) order.push(r.body.toString());
    expect(order).toEqual(['one', 'three, several blocks long: 0123456789abcdef', 'four']);
    expect(t.drops['bad-mac']).toBe(before + 1);
    expect(t.drops.truncated).toBe(1);
    // The next DAT opens right after the batch (the reused AES context's chaining value).
    t.feed(t.dat(2, 2, 1, Buffer.from('five')), CLIENT, 4);
    expect(t.requests.map((r) => r.body.toString())).toEqual([...order, 'five']);
  });

  it('does not bind on a DAT that fails authentication or has no handshake', () => {
    const t = serverOnly();
    t.feed(t.dat(0, 2, 1, Buffer.from('a')), CLIENT, 0);
    expect(t.drops.unexpected).toBe(1);
    t.feed(encodeDatagram(0, Flag.SYN, SID), CLIENT, 0);
    const wrong = new SessionCrypto({ ...KEYS, macKey: Buffer.alloc(16, 9) });
    t.feed(t.dat(0, 2, 1, Buffer.from('a'), wrong), CLIENT, 1);
    expect(t.drops['bad-mac']).toBe(1);
    t.feed(encodeDatagram(0, Flag.DAT, Buffer.from('FEBEDEEF', 'hex')), CLIENT, 1);
    expect(t.drops.truncated).toBe(1);
    expect(t.s.state).toBe('waiting');
  });
});

describe('ServerSession: bound', () => {
  it('clears its first DAT only with RACK; later ones with ACK or RACK', () => {
    const t = bound();
    t.s.sendPacket(2, 1, 1, Buffer.from('a'), 10);
    t.s.sendPacket(2, 1, 1, Buffer.from('b'), 10);
    t.feed(encodeAckRecords([{ seq: S, flag: Flag.ACK }, { seq: S + 1, flag: Flag.ACK }, { seq: S + 2, flag: Flag.ACK }], SID), CLIENT, 11);
    expect(t.s.allAcked).toBe(false);
    t.feed(encodeAckRecords([{ seq: S, flag: Flag.RACK }], SID), CLIENT, 12);
    expect(t.s.allAcked).toBe(true);
  });

  it('repeats its latest ACK records (8) in the next ACK datagrams, so a lost one costs no resend', () => {
    const t = bound();
    const acked = (): number[][] =>
      t.sent.filter((x) => x.d[3] === Flag.ACK || x.d[3] === Flag.RACK).map((x) => [...Array(x.d.length / 4).keys()].map((i) => x.d.readUIntLE(i * 4, 3)));
    for (let q = 1; q <= 10; q++) t.feed(t.dat(q, 2, 1, Buffer.from(`m${q}`)), CLIENT, 10 + q);
    const got = acked();
    expect(got[0]).toEqual([1, 0]); // DAT 1, then the bind DAT 0's record again
    expect(got[9]).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2]); // the new one, then the latest 8
  });

  it('ackDelayMs: ACK datagrams are paced (the first after a quiet time at once), ackEvery records go at once', () => {
    const t = bound({ ackDelayMs: 4, ackEvery: 3 });
    const acks = (): number[][] =>
      t.sent.filter((x) => x.d[3] === Flag.ACK).map((x) => [...Array(x.d.length / 4).keys()].map((i) => x.d.readUIntLE(i * 4, 3)));
    t.feed(t.dat(1, 2, 1, Buffer.from('a')), CLIENT, 10); // 8 ms after the last ACK datagram: at once
    expect(acks()).toEqual([[1, 0]]); // (0 repeated: the binding DAT's record went at its own turn, 2)
    t.feed(t.dat(2, 2, 1, Buffer.from('b')), CLIENT, 12); // 2 ms after it: waits for the pace
    t.feed(t.dat(3, 2, 1, Buffer.from('c')), CLIENT, 13);
    expect(acks()).toEqual([[1, 0]]); // waiting, and not reported as output due now
    expect(t.s.hasUnflushed).toBe(false);
    expect(t.s.nextDeadline()).toBe(14);
    t.s.tick(14);
    expect(acks()[1]).toEqual([2, 3, 1, 0]); // one datagram, then the latest records again
    for (const q of [4, 5, 6]) t.feed(t.dat(q, 2, 1, Buffer.from('d')), CLIENT, 15);
    expect(acks()[2].slice(0, 3)).toEqual([4, 5, 6]); // three waiting: at once, pace or not
    expect(t.requests.length).toBe(7); // requests are never delayed
  });

  it('ackDelayMs: a record due at the turn\'s flush arms no timer (the flush sends it)', () => {
    const t = bound({ ackDelayMs: 4 });
    const ttl = t.s.nextDeadline();
    // What feed() does up to the flush: the DAT's record waits for this turn's flush, not a timer.
    const p = parseDatagram(t.dat(1, 2, 1, Buffer.from('a')));
    if (!isParsed(p)) throw new Error('bad datagram');
    t.s.onDatagram(p, CLIENT, 10);
    expect(t.s.hasUnflushed).toBe(true);
    expect(t.s.nextDeadline()).toBe(ttl);
    t.s.flush(10);
    expect(t.sent.filter((x) => x.d[3] === Flag.ACK).length).toBe(1);
    expect(t.s.hasUnflushed).toBe(false);
    expect(t.s.nextDeadline()).toBe(ttl);
  });

  it('drops datagrams from any other address, control ones included, and keeps serving', () => {
    const t = bound();
    t.feed(encodeDatagram(0, Flag.SYN, SID), FOREIGN, 10);
    t.feed(t.dat(1, 2, 1, Buffer.from('evil')), FOREIGN, 10);
    t.feed(encodeAckRecords([{ seq: S, flag: Flag.RACK }], SID), FOREIGN, 10);
    t.feed(encodeDatagram(0, Flag.FIN, SID), FOREIGN, 10);
    t.feed(TERMINATE, FOREIGN, 10);
    t.feed(encodeDatagram(0, Flag.UDP, encodeRequest(0, 3, SID, t.crypto.seal(Buffer.alloc(8)))), FOREIGN, 10);
    expect(t.drops['foreign-address']).toBe(6);
    expect(t.sent.length).toBe(0);
    t.feed(t.dat(1, 2, 1, Buffer.from('ok')), CLIENT, 11);
    expect(t.requests.map((r) => r.body.toString())).toEqual(['hi', 'ok']);
    expect(t.s.state).toBe('bound');
  });

  it('delivers unreliable requests from the bound address, and answers unreliably', () => {
    const t = bound();
    t.feed(encodeDatagram(0, Flag.UDP, encodeRequest(0, 3, SID, t.crypto.seal(Buffer.alloc(8, 1)))), CLIENT, 10);
    expect(t.requests[1]).toMatchObject({ ver: 0, cmd: 3, reliable: false });
    expect(t.s.sendUnreliable(0, 3, 1, Buffer.alloc(8))).toBe(true);
    expect(t.flags()).toEqual([[0, Flag.UDP]]);
    expect(t.s.sendUnreliable(0, 3, 1, Buffer.alloc(2000))).toBe(false);
  });

  it('ends the session on a bad fragment (terminate, protocol-error); a repeated chunk is only counted', () => {
    const t = bound();
    const chunks = new Fragmenter(100).splitRequest(Buffer.alloc(350, 7), 2, 1, SID);
    t.feed(encodeDatagram(1, Flag.DAT, chunks[0]!), CLIENT, 10);
    t.feed(encodeDatagram(2, Flag.DAT, chunks[0]!), CLIENT, 11);  // the same chunk again, as a new DAT
    expect(t.drops.duplicate).toBe(1);
    expect(t.closed).toEqual([]);
    t.sent.length = 0;
    t.feed(encodeDatagram(3, Flag.DAT, chunks[2]!), CLIENT, 12);  // index 2 before index 1
    expect(t.drops['bad-fragment']).toBe(1);
    expect(t.closed).toEqual(['protocol-error']);
    expect(t.s.state).toBe('closed');
    expect(t.sent.some((x) => isTerminate(x.d))).toBe(true);
    t.feed(t.dat(4, 2, 1, Buffer.from('after')), CLIENT, 13);
    expect(t.requests.map((r) => r.body.toString())).toEqual(['hi']);  // nothing served after it
  });

  it('answers the client FIN with ACK 0 (4 bytes) and closes', () => {
    const t = bound();
    t.feed(encodeDatagram(0, Flag.FIN, SID), CLIENT, 10);
    expect(t.sent.map((x) => x.d.toString('hex'))).toEqual(['00000004']);
    expect(t.closed).toEqual(['closed-by-client']);
  });

  it('closing: Fin push as a DAT first, FIN once everything is acknowledged, done on ACK 0', () => {
    const t = bound();
    t.s.close('server-shutdown', 10);
    t.s.flush(10);
    expect(t.flags()).toEqual([
      [S, Flag.DAT],
      [S, Flag.RDAT],
    ]);
    t.feed(encodeAckRecords([{ seq: S, flag: Flag.RACK }], SID), CLIENT, 20);
    expect(t.flags()[2]).toEqual([0, Flag.FIN]);
    expect(t.sent[2].d.length).toBe(4);
    t.feed(encodeAckRecords([{ seq: 0, flag: Flag.ACK }], SID), CLIENT, 30);
    expect(t.closed).toEqual(['server-shutdown']);
  });

  it('drops a client silent for connectionTTL with the terminate datagram', () => {
    const t = bound({ connectionTtlMs: 10_000 });
    t.s.tick(5000);
    expect(t.closed).toEqual([]);
    t.feed(t.dat(1, 2, 1, Buffer.from('still here')), CLIENT, 5000);
    t.s.tick(14_999);
    expect(t.closed).toEqual([]);
    t.s.tick(15_000);
    expect(t.closed).toEqual(['timeout']);
    expect(isTerminate(t.sent[t.sent.length - 1].d)).toBe(true);
  });

  it('times out when its DATs go unacknowledged through maxRetries', () => {
    const t = bound({ connectionTtlMs: 1e9 });
    t.s.sendPacket(2, 1, 1, Buffer.from('x'), 10);
    for (let now = 10; now < 5000 && t.closed.length === 0; now += 10) {
      t.s.flush(now);
      t.s.tick(now);
    }
    expect(t.closed).toEqual(['timeout']);
    expect(t.flags().filter((f) => f[1] === Flag.RDAT).length).toBe(4);
  });
});

describe('echo answer body', () => {
  it('is state || ts || address || notifications || addressEnd', () => {
    const b = encodeEchoAnswer('online', 1.5, '1.2.3.4:5', [{ ver: 0, cmd: 400, payload: Buffer.from('n') }]);
    expect(b[0]).toBe(1);
    expect(b.readDoubleLE(1)).toBe(1.5);
    expect(b.toString('utf8', 9, 18)).toBe('1.2.3.4:5');
    expect(b.subarray(18, 24).toString('hex')).toBe('00060001906e');
    expect(b.readUInt16BE(b.length - 2)).toBe(18);
    expect(decodeEchoAnswer(b)).toEqual({
      state: 'online',
      ts: 1.5,
      address: '1.2.3.4:5',
      notifications: [{ ver: 0, cmd: 400, payload: Buffer.from('n') }],
    });
    const none = encodeEchoAnswer('offline', 0, '[::1]:7');
    expect(none.readUInt16BE(none.length - 2)).toBe(none.length - 2);
    expect(decodeEchoAnswer(none)?.notifications).toEqual([]);
    expect(decodeEchoAnswer(Buffer.alloc(5))).toBeNull();
  });
});

/** Client and server sessions over a simulated lossy, reordering link driven by a fake clock. */
function lossyPair(seed: number, lossPct: number) {
  const rand = seededRandom(seed);
  let now = 0;
  const wire: { at: number; toServer: boolean; d: Buffer }[] = [];
  const put = (toServer: boolean, d: Buffer): void => {
    if (rand() * 100 < lossPct) return;
    wire.push({ at: now + 1 + Math.floor(rand() * 20), toServer, d });
  };
  const atServer: Buffer[] = [];
  const atClient: { cmd: number; status: number; body: Buffer }[] = [];
  const ended: (SessionEndReason | ClientEndReason)[] = [];
  const crypto = new SessionCrypto(KEYS);
  const server = new ServerSession(
    { sid: SID, crypto, retryMinMs: 50, retryMaxMs: 400, maxRetries: 20, connectionTtlMs: 1e9 },
    {
      send: (d) => put(false, d),
      request: (ver, cmd, body) => {
        atServer.push(Buffer.from(body));
        server.sendPacket(ver, cmd, 1, body, now);
      },
      drop: () => undefined,
      closed: (r) => ended.push(r),
    },
  );
  const client = new ClientSession(
    { sid: SID, crypto, retryMinMs: 50, retryMaxMs: 400, maxRetries: 20, synIntervalMs: 30 },
    {
      send: (d) => put(true, d),
      connected: () => undefined,
      packet: (_v, cmd, status, body) => atClient.push({ cmd, status, body: Buffer.from(body) }),
      drop: () => undefined,
      closed: (r) => ended.push(r),
    },
  );
  const toServer = (d: Buffer): void => {
    if (isTerminate(d)) return server.onTerminate(CLIENT);
    const p = parseDatagram(d);
    if (!isParsed(p)) return;
    if (p.flag === Flag.ACK || p.flag === Flag.RACK) {
      const r = parseClientAckRecords(d);
      if (r !== null) server.onAcks(r, CLIENT, now);
    } else server.onDatagram(p, CLIENT, now);
  };
  /** Runs until `done` or the simulated time bound; returns the simulated time. */
  const run = (done: () => boolean, boundMs = 600_000): number => {
    while (!done() && now < boundMs) {
      let next = Infinity;
      for (const w of wire) next = Math.min(next, w.at);
      for (const t of [server.nextDeadline(), client.nextDeadline()]) if (t !== null) next = Math.min(next, t);
      if (next === Infinity) break;
      now = Math.max(now, next);
      for (let i = 0; i < wire.length; ) {
        const w = wire[i];
        if (w.at <= now) {
          wire.splice(i, 1);
          if (w.toServer) toServer(w.d);
          else client.onDatagram(w.d, now);
        } else i++;
      }
      server.tick(now);
      client.tick(now);
      server.flush(now);  // the node's end of turn
    }
    return now;
  };
  return { server, client, atServer, atClient, ended, run, now: () => now };
}

describe('server and client sessions over a lossy link (fake clock)', () => {
  it('delivers 2000 requests and their answers exactly once, in order, at 10 % loss with reordering', () => {
    const p = lossyPair(2024, 10);
    p.client.connect(0);
    p.run(() => p.client.state === 'open');
    expect(p.client.state).toBe('open');
    const N = 2000;
    const bodies: Buffer[] = [];
    for (let i = 0; i < N; i++) {
      const b = Buffer.alloc(i % 500 === 7 ? 4000 : 4);
      b.writeUInt32BE(i, 0);
      bodies.push(b);
      p.client.send(2, 4, b, p.now());
    }
    p.run(() => p.atClient.length === N && p.client.allAcked && p.server.allAcked);
    expect(p.atServer.length).toBe(N);
    expect(p.atServer.every((b, i) => b.equals(bodies[i]))).toBe(true);
    expect(p.atClient.every((a, i) => a.body.equals(bodies[i]) && a.status === 1)).toBe(true);
    expect(p.client.senderStats()?.retransmits).toBeGreaterThan(0);
    expect(p.server.senderStats()?.retransmits).toBeGreaterThan(0);
    // And a clean close through the same link.
    p.client.close(p.now());
    p.run(() => p.ended.length === 2);
    expect(p.ended.sort()).toEqual(['closed-by-client', 'closed-by-user']);
  });

  it('binds on a first message that only arrives as fragments (held, acked, authenticated whole)', () => {
    const p = lossyPair(99, 10);
    p.client.connect(0);
    p.run(() => p.client.state === 'open');
    const big = Buffer.alloc(9000, 5);
    p.client.send(2, 1, big, p.now());
    p.run(() => p.atClient.length === 1);
    expect(p.server.state).toBe('bound');
    expect(p.atServer[0].equals(big)).toBe(true);
    expect(p.atClient[0].body.equals(big)).toBe(true);
  });

  it('the server close reaches the client as a Fin push, then FIN', () => {
    const p = lossyPair(7, 10);
    p.client.connect(0);
    p.run(() => p.client.state === 'open');
    p.client.send(2, 1, Buffer.from('x'), p.now());
    p.run(() => p.atClient.length === 1);
    p.server.close('kicked', p.now());
    p.run(() => p.ended.length === 2);
    expect(p.atClient[1]).toMatchObject({ cmd: 0, status: 0xff, body: Buffer.from('kicked') });
    expect(p.ended).toContain('closed-by-server');
    expect(p.ended).toContain('kicked');
  });
});
