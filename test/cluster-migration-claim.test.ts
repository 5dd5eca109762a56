import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, type ClusterEvents, ManualClock, startCluster } from '../src/server';
import { EndpointInfo, fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';

let cluster: Cluster | null = null;
const clients: TsTcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  cluster = null;
});

const TTL = 1000;

interface Moved {
  c: Cluster;
  clock: ManualClock;
  ep: EndpointInfo;
  target: EndpointInfo;
  to: string;
  ticket: Buffer;
  refusals: string[];
}

/** Alice on one node, migrated (not yet claimed) to the other. */
async function migrated(): Promise<Moved> {
  const clock = new ManualClock();
  const c = await startCluster({ udpNodes: 0, tcpNodes: 2, clock, handoffTtlMs: TTL });
  cluster = c;
  const refusals: string[] = [];
  c.on('refused', (e) => refusals.push(`${e.nodeId}:${e.reason}`));
  const ep = await fetchEndpoint(c.entryUrl, 'TCP', 'alice');
  const old = await TsTcpClient.connect(ep);
  clients.push(old);
  await old.request(2, 2);
  const m = await old.migrate();
  if (!m.ok) throw new Error('migration refused');
  const to = c.nodeIdAt(m.port) ?? '';
  return { c, clock, ep, target: { ...ep, serverPort: m.port }, to, ticket: m.ticket, refusals };
}

/** A claim that must be refused: resolves with how the connection ended. */
async function refusedClaim(ep: EndpointInfo, ticket: Uint8Array): Promise<string> {
  const c = await TsTcpClient.connect(ep, { first: { ver: 0, cmd: 2, body: ticket } });
  clients.push(c);
  return c.closed;
}

describe('claim at the migration target (PROTOCOL 7.6)', () => {
  it('refuses a wrong ticket (counted) and still accepts the right one afterwards', async () => {
    const t = await migrated();
    expect(await refusedClaim(t.target, randomBytes(16))).toBe('fin:refused');
    expect(t.refusals).toEqual([`${t.to}:claim:wrong-ticket`]);
    expect(t.c.stats(t.to).refused).toBe(1);
    const next = await TsTcpClient.connect(t.target, { claim: t.ticket });
    clients.push(next);
    expect((await next.request(2, 2)).payload.readUInt32BE(0)).toBe(2);
  });

  it('refuses an unknown SID, a claim that does not authenticate, a short ticket and a heartbeat first', async () => {
    const t = await migrated();
    const stranger = { ...t.target, sid: randomBytes(16).toString('hex') };
    expect(await refusedClaim(stranger, t.ticket)).toBe('fin:refused');
    const wrongKeys = { ...t.target, encryptionMacKey: randomBytes(16).toString('hex') };
    expect(await refusedClaim(wrongKeys, t.ticket)).toBe('fin:refused');
    expect(await refusedClaim(t.target, t.ticket.subarray(0, 8))).toBe('fin:refused');
    await expect(TsTcpClient.connect(t.target)).rejects.toThrow('fin:refused');
    expect(t.refusals).toEqual([
      `${t.to}:claim:unknown-sid`,
      `${t.to}:claim:unauthenticated`,
      `${t.to}:claim:bad-ticket`,
      `${t.to}:heartbeat-before-claim`,
    ]);
    expect(t.c.stats(t.to).refused).toBe(4);
    expect(t.c.stats(t.to).drops['bad-mac']).toBe(1);
    // None of that consumed the handoff.
    const next = await TsTcpClient.connect(t.target, { claim: t.ticket });
    clients.push(next);
  });

  it('lets the ticket holder repeat its claim while the TTL lasts, refuses it afterwards', async () => {
    const t = await migrated();
    const first = await TsTcpClient.connect(t.target, { claim: t.ticket });
    clients.push(first);
    const again = await TsTcpClient.connect(t.target, { claim: t.ticket });
    clients.push(again);
    // The repeat takes the session over; the earlier connection is told why.
    expect(await first.closed).toBe('fin:kicked');
    expect((await again.request(2, 2)).payload.readUInt32BE(0)).toBe(2);
    t.clock.advance(TTL);
    expect(await refusedClaim(t.target, t.ticket)).toBe('fin:refused');
    expect(t.refusals).toEqual([`${t.to}:claim:unknown`]);
    expect((await again.request(2, 2)).payload.readUInt32BE(0)).toBe(3);
  });

  it('refuses the ticket of an earlier handoff after the session moved on', async () => {
    const t = await migrated();
    const b = await TsTcpClient.connect(t.target, { claim: t.ticket });
    clients.push(b);
    const m2 = await b.migrate();
    if (!m2.ok) throw new Error('second migration refused');
    const back = { ...t.ep, serverPort: m2.port };
    expect(await refusedClaim(back, t.ticket)).toBe('fin:refused');
    const backId = t.c.nodeIdAt(m2.port);
    expect(t.refusals).toEqual([`${backId}:claim:wrong-ticket`]);
    const c = await TsTcpClient.connect(back, { claim: m2.ticket });
    clients.push(c);
    expect((await c.request(2, 2)).payload.readUInt32BE(0)).toBe(2);
  });

  it('reports a handoff that expires unclaimed with the data and held pushes, then refuses its claim', async () => {
    const t = await migrated();
    const expired: ClusterEvents['handoff-expired'][] = [];
    t.c.on('handoff-expired', (e) => expired.push(e));
    await t.c.push('alice', 2, 7, Buffer.from('a'));
    await t.c.push('alice', 2, 7, Buffer.from('b'));
    t.clock.advance(TTL - 1);
    expect(expired).toEqual([]);
    t.clock.advance(1);
    expect(expired).toHaveLength(1);
    const e = expired[0];
    expect({ nodeId: e.nodeId, uid: e.uid, sid: e.sid, data: e.data }).toEqual({ nodeId: t.to, uid: 'alice', sid: t.ep.sid, data: { counter: 1 } });
    expect(e.from).not.toBe(t.to);
    expect(e.held.map((h) => `${h.ver}/${h.cmd}:${h.payload.toString()}`)).toEqual(['2/7:a', '2/7:b']);
    expect(await t.c.push('alice', 2, 7, Buffer.from('c'))).toBe(false);
    expect(await refusedClaim(t.target, t.ticket)).toBe('fin:refused');
    expect(t.c.stats(t.to).refused).toBe(1);
  });
});
