// Issue 12 (ninth session): a client that moves A -> B and at once back to A, while A's entry of
// its first departure still closes carefully. Two UDP nodes on one store whose Handoffs know no
// node in process: a target adopts only through the store lookup a claim's SYN starts (as when the
// claim overtakes the stream entry on Redis). RUDP time is a ManualClock that never advances, so
// A's departing entry stays until the test lets the old link's datagrams through.
import { createSocket } from 'node:dgram';
import { afterEach, expect, it } from 'vitest';
import { DEFAULT_MAX_PAYLOAD, fromHex, randomSessionSecrets, toHex } from '../src/protocol';
import { encodeAckRecords, encodeDatagram, Flag } from '../src/protocol/rudp';
import { CommandRouter, ManualClock, MemoryStore } from '../src/server';
import { Handoffs } from '../src/server/handoff';
import type { SessionRecord } from '../src/server/store';
import type { ClusterEvents } from '../src/server/types';
import { UdpNode } from '../src/server/udp-node';
import type { EndpointInfo } from './helpers/ts-tcp-client';
import { TsUdpClient } from './helpers/ts-udp-client';

const RETRY = { retryMinMs: 40, retryMaxMs: 400, maxRetries: 30 } as const;
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Event = { [K in keyof ClusterEvents]: { name: K; info: ClusterEvents[K] } }[keyof ClusterEvents];

async function twoNodes(): Promise<{ a: UdpNode; b: UdpNode; store: MemoryStore; events: Event[]; next: (pred: (e: Event) => boolean) => Promise<Event> }> {
  const store = new MemoryStore();
  const clock = new ManualClock();
  const events: Event[] = [];
  let waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  const emit = (<K extends keyof ClusterEvents>(name: K, info: ClusterEvents[K]): void => {
    const e = { name, info } as Event;
    events.push(e);
    waiters = waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
  }) as ConstructorParameters<typeof UdpNode>[0]['emit'];
  const handoffs = new Handoffs({ store, nodes: new Map(), ttlMs: 60_000, clock, emit });
  await handoffs.start();
  const make = (id: string): UdpNode =>
    new UdpNode({ id, host: '127.0.0.1', maxPayload: DEFAULT_MAX_PAYLOAD, exposeDebugCommands: false, store, router: new CommandRouter(), emit, clock, handoffs, rudpClock: new ManualClock(), initialSeq: 100, ...RETRY, connectionTtlMs: 60_000 });
  const a = make('udp-a');
  const b = make('udp-b');
  await a.start();
  await b.start();
  cleanups.push(async () => {
    handoffs.stop();
    await a.stop(50);
    await b.stop(50);
    await store.close();
  });
  const next = (pred: (e: Event) => boolean): Promise<Event> => new Promise((resolve) => waiters.push({ pred, resolve }));
  return { a, b, store, events, next };
}

async function connect(ep: EndpointInfo, claim?: Buffer): Promise<TsUdpClient> {
  const cl = await TsUdpClient.connect(ep, { ...RETRY, synIntervalMs: 50, connectTimeoutMs: 3000, ...(claim !== undefined ? { claim } : {}) });
  cleanups.push(() => (cl.closeReason === null ? cl.destroy() : undefined));
  return cl;
}

it('a client back at A while A still closes its first departure claims there; the old link still closes', async () => {
  const { a, b, store, events, next } = await twoNodes();
  const s = randomSessionSecrets();
  const rec: SessionRecord = { uid: 'back', sid: toHex(s.sid), nodeId: a.id, key: toHex(s.key), iv: toHex(s.iv), macKey: toHex(s.macKey), clientKey: '', data: {} };
  a.adoptSession(rec);
  await store.registerSession(rec);
  const at = (n: UdpNode): EndpointInfo => ({ serverType: 'UDP', serverHost: n.host, serverPort: n.port, sid: rec.sid, encryptionKey: rec.key, encryptionIV: rec.iv, encryptionMacKey: rec.macKey });

  // A -> B. The old link's socket then holds what it sends (its ACKs of A's careful close).
  const first = await connect(at(a));
  const toB = await first.migrate();
  if (!toB.ok) throw new Error('A refused the migration');
  const held: Buffer[] = [];
  first.socket.send = ((d: Buffer) => void held.push(Buffer.from(d))) as typeof first.socket.send;
  expect(toB.port).toBe(b.port);
  // A SYN from elsewhere for the departing SID: a store lookup (the session is B's now), dropped
  // unanswered; the departing link is not touched.
  const spoofed = next((e) => e.name === 'drop' && e.info.nodeId === a.id && e.info.sid === rec.sid && e.info.reason === 'unexpected');
  const raw = createSocket('udp4');
  cleanups.push(() => new Promise<void>((r) => raw.close(() => r())));
  raw.send(encodeDatagram(0, Flag.SYN, s.sid), a.port, '127.0.0.1');
  await spoofed;
  const onB = await connect({ ...at(b), serverPort: toB.port }, toB.ticket);

  // B -> A, a new socket: A has no session for the SID, only the departing entry of the old link.
  const toA = await onB.migrate();
  if (!toA.ok) throw new Error('B refused the migration');
  expect(toA.port).toBe(a.port);
  const back = await connect({ ...at(a), serverPort: toA.port }, toA.ticket);
  expect((await back.echo()).status).toBe(1);
  expect(a.users).toBe(1);

  // The old link's ACKs (from its own address) reach the departing entry, which ends it with a FIN.
  const oldClosed = next((e) => e.name === 'migration-phase' && e.info.nodeId === a.id && e.info.phase === 'old-link-closed');
  const oldEnded = first.closed;
  delete (first.socket as { send?: unknown }).send;
  for (const d of held.splice(0)) first.socket.send(d);
  await oldClosed;
  expect(await oldEnded).toBe('closed-by-server');
  // The new link is untouched by the old one's end.
  expect((await back.echo()).status).toBe(1);
  expect(back.closeReason).toBeNull();
  expect(events.filter((e) => e.name === 'refused')).toEqual([]);
  expect(a.stats.drops['foreign-address']).toBe(0);
});

it("a departed link's careful close never reaches the next client on its freed port (a FIN names no session)", async () => {
  const { a, b, store, next } = await twoNodes();
  const register = async (uid: string): Promise<EndpointInfo> => {
    const s = randomSessionSecrets();
    const rec: SessionRecord = { uid, sid: toHex(s.sid), nodeId: a.id, key: toHex(s.key), iv: toHex(s.iv), macKey: toHex(s.macKey), clientKey: '', data: {} };
    a.adoptSession(rec);
    await store.registerSession(rec);
    return { serverType: 'UDP', serverHost: a.host, serverPort: a.port, sid: rec.sid, encryptionKey: rec.key, encryptionIV: rec.iv, encryptionMacKey: rec.macKey };
  };
  // The first client moves to B; its ACK of A's FIN is lost and it frees its port: A's old link is
  // left retrying its FIN to that port.
  const firstEp = await register('first');
  const first = await connect(firstEp);
  const port = first.localPort;
  const finAck = encodeAckRecords([{ seq: 0, flag: Flag.ACK }], fromHex(firstEp.sid));
  const send = first.socket.send.bind(first.socket) as (d: Buffer) => void;
  first.socket.send = ((d: Buffer) => (d.equals(finAck) ? undefined : send(d))) as typeof first.socket.send;
  const moved = await first.migrate();
  if (!moved.ok) throw new Error('A refused the migration');
  expect(moved.port).toBe(b.port);
  const freed = new Promise<void>((r) => first.socket.once('close', () => r()));
  expect(await first.closed).toBe('closed-by-server');
  await freed;
  // Another client gets that port and binds a session at A.
  const ep = await register('second');
  const second = await TsUdpClient.connect(ep, { ...RETRY, synIntervalMs: 50, connectTimeoutMs: 3000, localPort: port });
  cleanups.push(() => (second.closeReason === null ? second.destroy() : undefined));
  const abandoned = next((e) => e.name === 'migration-phase' && e.info.nodeId === a.id && e.info.phase === 'old-link-closed');
  expect((await second.echo()).status).toBe(1);
  // The departed link's FIN retries would have gone to that port by now.
  (a as unknown as { rudpClock: ManualClock }).rudpClock.advance(1000);
  expect((await second.echo()).status).toBe(1);
  expect(second.closeReason).toBeNull();
  // The departed link ended when the second client's session bound at that address.
  await abandoned;
});
