import { randomBytes } from 'node:crypto';
import { createSocket, Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRequest, fromHex, SessionCrypto } from '../src/protocol';
import { encodeAckRecords, encodeDatagram, Flag } from '../src/protocol/rudp';
import { Cluster, type ClusterEvents, ManualClock, startCluster } from '../src/server';
import { EndpointInfo, fetchEndpoint } from './helpers/ts-tcp-client';
import { TsUdpClient, TsUdpClientOptions } from './helpers/ts-udp-client';

const RETRY = { retryMinMs: 40, retryMaxMs: 400, maxRetries: 30 } as const;
const TTL = 1000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function connect(ep: EndpointInfo, o: TsUdpClientOptions = {}): Promise<TsUdpClient> {
  const cl = await TsUdpClient.connect(ep, { ...RETRY, synIntervalMs: 100, connectTimeoutMs: 20_000, ...o });
  cleanups.push(async () => (cl.closeReason === null ? cl.close() : undefined));
  return cl;
}

interface Moved {
  c: Cluster;
  clock: ManualClock;
  ep: EndpointInfo;
  target: EndpointInfo;
  to: string;
  ticket: Buffer;
  refusals: string[];
  /** DATs the client sent to the old node, as they went on the wire. */
  sent: Buffer[];
}

/** Alice on one node, migrated (not yet claimed) to the other. */
async function migrated(): Promise<Moved> {
  const clock = new ManualClock();
  const c = await startCluster({ udpNodes: 2, tcpNodes: 0, clock, handoffTtlMs: TTL, udp: { ...RETRY, connectionTtlMs: 60_000 } });
  cleanups.push(() => c.stop());
  const refusals: string[] = [];
  c.on('refused', (e) => refusals.push(`${e.nodeId}:${e.reason}`));
  const ep = await fetchEndpoint(c.entryUrl, 'UDP', 'alice');
  const sent: Buffer[] = [];
  const old = await connect(ep, { onDatagramOut: (d) => d[3] === Flag.DAT && sent.push(Buffer.from(d)) });
  await old.request(2, 2, Buffer.alloc(0));
  const m = await old.migrate();
  if (!m.ok) throw new Error('migration refused');
  await old.closed;
  const to = c.nodes.find((n) => n.port === m.port)?.id ?? '';
  return { c, clock, ep, target: { ...ep, serverPort: m.port }, to, ticket: m.ticket, refusals, sent };
}

/** A first request that must be refused: resolves with the Fin reason seen and how it ended. */
async function refusedFirst(ep: EndpointInfo, first: { ver: number; cmd: number; body: Uint8Array }): Promise<[string | null, string]> {
  const cl = await connect(ep, { first });
  const how = await cl.closed;
  return [cl.finReason, how];
}

/** Next event of a kind, from now on. */
function nextEvent<K extends keyof ClusterEvents>(c: Cluster, name: K, pred: (e: ClusterEvents[K]) => boolean = () => true): Promise<ClusterEvents[K]> {
  return new Promise((resolve) => {
    const f = (e: ClusterEvents[K]): void => {
      if (!pred(e)) return;
      c.off(name, f);
      resolve(e);
    };
    c.on(name, f);
  });
}

/** A raw socket that completed a fresh handshake for `sid` at `port` (no keys needed for that). */
async function rawHandshake(port: number, sid: Buffer): Promise<{ sock: Socket; fin: Promise<void> }> {
  const sock = createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => sock.connect(port, '127.0.0.1', () => r()));
  let gotFin = (): void => undefined;
  const fin = new Promise<void>((r) => (gotFin = r));
  const syn = new Promise<number>((resolve) => {
    sock.on('message', (m) => {
      if (m[3] === Flag.SYN) resolve(m[0] | (m[1] << 8) | (m[2] << 16));
      if (m[3] === Flag.FIN) gotFin();
    });
  });
  sock.send(encodeDatagram(0, Flag.SYN, sid));
  const s = await syn;
  sock.send(encodeAckRecords([{ seq: s, flag: Flag.ACK }], sid));
  return { sock, fin };
}

/** Same bytes with another transport sequence (the 4-byte header is not authenticated). */
function withSeq(d: Buffer, seq: number): Buffer {
  const out = Buffer.from(d);
  out.writeUIntLE(seq, 0, 3);
  return out;
}

describe('claim at the UDP migration target (PROTOCOL 7.6)', () => {
  it('refuses a wrong ticket (counted, Fin refused + FIN) and still accepts the right one afterwards', async () => {
    const t = await migrated();
    expect(await refusedFirst(t.target, { ver: 0, cmd: 2, body: randomBytes(16) })).toEqual(['refused', 'closed-by-server']);
    expect(t.refusals).toEqual([`${t.to}:claim:wrong-ticket`]);
    expect(t.c.stats(t.to).refused).toBe(1);
    const next = await connect(t.target, { claim: t.ticket });
    expect((await next.request(2, 2, Buffer.alloc(0))).payload.readUInt32BE(0)).toBe(2);
  });

  it('refuses a ticket of the wrong size, an ordinary request first, and a claim that does not authenticate', async () => {
    const t = await migrated();
    expect(await refusedFirst(t.target, { ver: 0, cmd: 2, body: randomBytes(8) })).toEqual(['refused', 'closed-by-server']);
    expect(await refusedFirst(t.target, { ver: 2, cmd: 1, body: Buffer.from('hi') })).toEqual(['refused', 'closed-by-server']);
    // Other keys: the Fin (sealed with the session's keys) does not open for it, the FIN still ends it.
    const wrongKeys = { ...t.target, encryptionKey: randomBytes(16).toString('hex'), encryptionMacKey: randomBytes(16).toString('hex') };
    const cl = await connect(wrongKeys, { first: { ver: 0, cmd: 2, body: t.ticket } });
    expect(await cl.closed).toBe('closed-by-server');
    expect(cl.finReason).toBeNull();
    expect(t.refusals).toEqual([`${t.to}:claim:bad-ticket`, `${t.to}:request-before-claim`, `${t.to}:claim:unauthenticated`]);
    expect(t.c.stats(t.to).refused).toBe(3);
    expect(t.c.nodes.find((n) => n.id === t.to)?.users).toBe(1);
    const next = await connect(t.target, { claim: t.ticket });
    expect((await next.request(2, 1, Buffer.from('ok'))).payload.toString()).toBe('ok');
  });

  it('a replay of what the client sent to the old node cannot take the session', async () => {
    const t = await migrated();
    const sid = fromHex(t.ep.sid);
    // The first DAT (seq 0, a 2/2 request that authenticates) after a fresh handshake: refused.
    const first = t.sent.find((d) => d.readUIntLE(0, 3) === 0);
    if (first === undefined) throw new Error('no first DAT captured');
    const a = await rawHandshake(t.target.serverPort, sid);
    a.sock.send(first);
    await a.fin;
    // The migrate request (empty body) moved to seq 0: not a ticket.
    const migrate = t.sent[t.sent.length - 1];
    const b = await rawHandshake(t.target.serverPort, sid);
    b.sock.send(withSeq(migrate, 0));
    await b.fin;
    // Any later DAT as it was (seq 1...): dropped unacknowledged, binds nothing.
    const dropped = nextEvent(t.c, 'drop', (e) => e.nodeId === t.to && e.reason === 'unexpected');
    const d = await rawHandshake(t.target.serverPort, sid);
    d.sock.send(migrate);
    await dropped;
    expect(t.refusals).toEqual([`${t.to}:request-before-claim`, `${t.to}:claim:bad-ticket`]);
    expect(t.c.stats(t.to).connections).toBe(0);
    const next = await connect(t.target, { claim: t.ticket });
    expect((await next.request(2, 2, Buffer.alloc(0))).payload.readUInt32BE(0)).toBe(2);
  });

  it('counts a claim for an unknown SID without answering it', async () => {
    const t = await migrated();
    const sid = randomBytes(16);
    const crypto = new SessionCrypto({ key: randomBytes(16), iv: randomBytes(16), macKey: randomBytes(16) });
    const refused = nextEvent(t.c, 'refused');
    const s = createSocket('udp4');
    cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
    s.send(encodeDatagram(0, Flag.DAT, encodeRequest(0, 2, sid, crypto.seal(randomBytes(16)))), t.target.serverPort, '127.0.0.1');
    expect(await refused).toEqual({ nodeId: t.to, reason: 'claim:unknown-sid' });
    expect(t.c.stats(t.to).refused).toBe(1);
  });

  it('answers a repeated claim again without a second binding; another address cannot take the bound session', async () => {
    const t = await migrated();
    const got: number[] = [];
    const next = await connect(t.target, { claim: t.ticket, onPush: (_v, _c, p) => got.push(p.readUInt32BE(0)) });
    const push = Buffer.alloc(4);
    push.writeUInt32BE(7, 0);
    await t.c.push('alice', 2, 7, push);
    // The claim again on the same link (as after a lost answer): answered status 1 once more.
    expect((await next.request(0, 2, t.ticket)).status).toBe(1);
    expect((await next.request(2, 2, Buffer.alloc(0))).payload.readUInt32BE(0)).toBe(2);
    expect(got).toEqual([7]);
    // A second socket with the same ticket: its handshake is not answered (one binding only).
    const foreign = nextEvent(t.c, 'drop', (e) => e.nodeId === t.to && e.reason === 'foreign-address');
    const other = TsUdpClient.connect(t.target, { ...RETRY, synIntervalMs: 50, connectTimeoutMs: 500, claim: t.ticket });
    cleanups.push(() => other.then((o) => o.destroy(), () => undefined));
    await foreign;
    expect(t.refusals).toEqual([]);
    expect(t.c.stats(t.to).connections).toBe(1);
    expect(t.c.nodes.find((n) => n.id === t.to)?.users).toBe(1);
    expect((await next.request(2, 1, Buffer.from('still'))).payload.toString()).toBe('still');
  });

  it('reports a handoff that expires unclaimed with what it held; the ticket is refused afterwards', async () => {
    const t = await migrated();
    const push = Buffer.alloc(4);
    push.writeUInt32BE(9, 0);
    expect(await t.c.push('alice', 2, 7, push)).toBe(true);
    const expired = nextEvent(t.c, 'handoff-expired');
    t.clock.advance(TTL);
    const e = await expired;
    expect(e).toMatchObject({ nodeId: t.to, uid: 'alice', sid: t.ep.sid, data: { counter: 1 } });
    expect(e.held.map((h) => [h.ver, h.cmd, h.payload.readUInt32BE(0)])).toEqual([[2, 7, 9]]);
    expect(t.c.nodes.find((n) => n.id === t.to)?.users).toBe(0);
    // The session is gone at the target: its SID is unknown there now.
    const dropped = nextEvent(t.c, 'drop', (d) => d.nodeId === t.to && d.sid === t.ep.sid);
    const late = TsUdpClient.connect(t.target, { ...RETRY, synIntervalMs: 50, connectTimeoutMs: 500, claim: t.ticket });
    await dropped;
    await expect(late).rejects.toThrow('connect failed: connect-timeout');
  });
});
