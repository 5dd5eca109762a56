// Faults through the REAL native UdpClient: a vanished peer times out after the retries; forged
// datagrams at the client's socket or at the node are dropped and counted while the real session
// carries on. Forging uses the protocol encoders (the same ones test/udp-node-forged.test.ts uses).
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { getEndpoint, UdpClient, type Endpoint } from '../src/client';
import { encodeRequest, encodeResponse, fromHex, SessionCrypto } from '../src/protocol';
import { encodeAckRecords, encodeDatagram, Flag, isParsed, parseDatagram, TERMINATE } from '../src/protocol/rudp';
import { startCluster, type Cluster } from '../src/server';
import { UdpProxy } from './helpers/udp-proxy';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const WRONG = new SessionCrypto({ key: Buffer.alloc(16, 1), iv: Buffer.alloc(16, 2), macKey: Buffer.alloc(16, 3) });

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

/**
 * A transparent relay the client connects to: forwards both ways, remembers the client's address
 * and the newest server sequence, and can send forged datagrams to the client FROM the address the
 * client's connected socket accepts (a foreign address never gets past the kernel).
 */
async function relay(
  target: number,
): Promise<{ port: number; inject: (d: Buffer) => void; lastServerSeq: () => number; clientPort: () => number }> {
  const front = await bound();
  const back = await bound();
  let client: { port: number; address: string } | null = null;
  let seq = 0;
  front.on('message', (m, r) => {
    client = { port: r.port, address: r.address };
    back.send(m, target, '127.0.0.1');
  });
  back.on('message', (m) => {
    const d = parseDatagram(m);
    if (isParsed(d) && (d.flag === Flag.DAT || d.flag === Flag.RDAT)) seq = d.seq;
    if (client !== null) front.send(m, client.port, client.address);
  });
  return {
    port: front.address().port,
    inject: (d) => {
      if (client === null) throw new Error('no client yet');
      front.send(d, client.port, client.address);
    },
    lastServerSeq: () => seq,
    clientPort: () => client?.port ?? 0,
  };
}

/** Polls a counter (there is no event for a drop); the bound is a generous safety net. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const limit = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > limit) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(): Promise<{ cluster: Cluster; ep: Endpoint }> {
  const cluster = await startCluster({ tcpNodes: 0, udpNodes: 1, udp: { connectionTtlMs: 60_000 } });
  cleanups.push(() => cluster.stop());
  return { cluster, ep: await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'fault' }) };
}

function newClient(opts: ConstructorParameters<typeof UdpClient>[0] = {}): UdpClient {
  const c = new UdpClient({ echoIntervalMs: 60_000, retryMinMs: 50, retryMaxMs: 200, maxRetries: 10, ...opts });
  cleanups.push(() => c.close());
  return c;
}

async function stillWorks(client: UdpClient): Promise<void> {
  const answers = await Promise.all([1, 2, 3].map((n) => client.request(2, 1, Buffer.from(`after-${n}`))));
  expect(answers.map((a) => a.payload.toString())).toEqual(['after-1', 'after-2', 'after-3']);
  expect(client.state).toBe('connected');
}

describe('UdpClient faults', () => {
  it("a vanished peer: 'timeout' after maxRetries resends, pending requests rejected", async () => {
    const { ep } = await setup();
    const proxy = await UdpProxy.start({ seed: 5, target: { host: ep.serverHost, port: ep.serverPort } });
    cleanups.push(() => proxy.close());
    const client = newClient({ retryMinMs: 20, retryMaxMs: 40, maxRetries: 3 });
    await client.connect({ ...ep, serverPort: proxy.port });
    await stillWorks(client);
    const gone = new Promise<string>((r) => client.once('disconnect', (code) => r(code)));
    proxy.setFaults('toServer', { lossPct: 100 });
    proxy.setFaults('toClient', { lossPct: 100 });
    const pending = client.request(2, 1, Buffer.from('into the void'));
    await expect(pending).rejects.toMatchObject({ code: 'timeout' });
    expect(await gone).toBe('timeout');
    expect(client.state).toBe('closed');
    expect(client.stats().retransmits).toBeGreaterThanOrEqual(3);
  });

  it('forged datagrams from the server address are dropped and counted by the client', async () => {
    const { ep } = await setup();
    const r = await relay(ep.serverPort);
    const client = newClient();
    const macErrors: string[] = [];
    client.on('error', (e) => macErrors.push(e.code));
    await client.connect({ ...ep, serverPort: r.port });
    await stillWorks(client);
    const drops = (k: string): number => client.stats().drops[k] ?? 0;
    const before = { ...client.stats().drops };
    const far = (r.lastServerSeq() + 5000) & 0xffffff;

    r.inject(Buffer.from([1, 2, 3]));                                       // truncated header
    r.inject(Buffer.from([0, 0, 0, 9]));                                    // unknown flag
    r.inject(encodeDatagram(0, Flag.UDP, Buffer.alloc(1401)));              // beyond one datagram
    r.inject(encodeDatagram(0, Flag.UDP, encodeResponse(2, 1, 1, WRONG.seal(Buffer.from('forged')))));
    r.inject(encodeDatagram(0, Flag.SYN));                                  // another handshake's SYN
    for (let i = 0; i < 20; i++) r.inject(encodeAckRecords([{ seq: (far + i) & 0xffffff, flag: Flag.ACK }]));
    // Fragment flood for one id, far beyond the receive window: never buffered, never acknowledged.
    const chunk = Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0, 7, 0, 0, 0, 3, ...randomBytes(100)]);
    for (let i = 0; i < 200; i++) r.inject(encodeDatagram((far + i) & 0xffffff, Flag.DAT, chunk));

    await until('client drops', () =>
      drops('truncated') > (before.truncated ?? 0) &&
      drops('unknown-flag') > (before['unknown-flag'] ?? 0) &&
      drops('too-large') > (before['too-large'] ?? 0) &&
      drops('bad-mac') > (before['bad-mac'] ?? 0) &&
      drops('unexpected') > (before.unexpected ?? 0) &&
      drops('duplicate') >= (before.duplicate ?? 0) + 20 &&
      drops('out-of-window') >= (before['out-of-window'] ?? 0) + 200 &&
      // The 'error' event crosses from the network thread after the counter moved.
      macErrors.includes('bad-mac'),
    );
    expect(macErrors).toContain('bad-mac');
    await stillWorks(client);
  });

  it('a fragment-start flood (every id, count 807, never completed) ends the connection with protocol-error', async () => {
    const { ep } = await setup();
    const r = await relay(ep.serverPort);
    const client = newClient();
    await client.connect({ ...ep, serverPort: r.port });
    await stillWorks(client);
    const gone = new Promise<[string, string]>((res) => client.once('disconnect', (code, msg) => res([code, msg])));
    // In-sequence DATs right after the node's last one: the client delivers them in order. Before
    // issue 11 each id pre-sized 807 chunk slots and nothing ended the session (436 MiB RSS).
    const base = r.lastServerSeq();
    for (let id = 0; id < 30_000; id++) {
      const chunk = Buffer.alloc(10 + 11, 0x5a);
      chunk.set([0xff, 0xfe, 0xfd, 0xfc], 0);
      chunk.writeInt16BE(id, 4);
      chunk.writeInt16BE(0, 6);
      chunk.writeInt16BE(807, 8);
      r.inject(encodeDatagram((base + 1 + id) & 0xffffff, Flag.DAT, chunk));
    }
    const [code, message] = await gone;
    expect(code).toBe('protocol-error');
    expect(message).toMatch(/bad-fragment: chunk of another id/);
    expect(client.stats().drops['bad-fragment']).toBe(1);
    expect(client.stats().reassemblyBytes).toBeLessThanOrEqual(11);  // one chunk, from the native side
  });

  it("the node's 24-bit sequence wraps right after the handshake: answers and fragmented pushes stay in order", async () => {
    // S = 0xFFFFFD: the node's DATs are 0xFFFFFE, 0xFFFFFF, then 0, 1, ... (PROTOCOL section 4).
    const cluster = await startCluster({ tcpNodes: 0, udpNodes: 1, udp: { initialSeq: 0xfffffd, connectionTtlMs: 60_000 } });
    cleanups.push(() => cluster.stop());
    const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'wrap' });
    const r = await relay(ep.serverPort);
    const client = newClient();
    await client.connect({ ...ep, serverPort: r.port });
    const sent = Array.from({ length: 20 }, (_, i) => Buffer.from(`wrap-${i}`));
    // One at a time: the node packs answers that are ready together into one DAT (issue 10), and
    // the sequence must advance by one DAT per answer to be sure to cross the wrap.
    const answers = [];
    for (const b of sent) answers.push(await client.request(2, 1, b));
    expect(answers.map((a) => a.payload.toString())).toEqual(sent.map((b) => b.toString()));
    expect(r.lastServerSeq()).toBeLessThan(0x1000); // the node's sequence did wrap
    // After the wrap: a message fragmented both ways, and a fragmented push.
    const big = randomBytes(6000);
    expect((await client.request(2, 1, big)).payload.equals(big)).toBe(true);
    const pushes: Buffer[] = [];
    client.on('push', (ver, cmd, p) => {
      if (ver === 2 && cmd === 3) pushes.push(p);
    });
    await client.request(2, 3, big);
    expect(pushes).toHaveLength(1);
    expect(pushes[0].equals(big)).toBe(true);
    expect(client.stats().drops['bad-fragment'] ?? 0).toBe(0);
    await stillWorks(client);
  });

  it('datagrams from a foreign address never reach the connected client socket', async () => {
    const { ep } = await setup();
    const r = await relay(ep.serverPort);
    const client = newClient();
    await client.connect({ ...ep, serverPort: r.port });
    await stillWorks(client);
    // A terminate or FIN would end the session if it got through; from a foreign address the
    // connected socket's kernel filter discards them before the client sees a byte.
    const attacker = await bound();
    const received = client.stats().packetsReceived;
    const dropsBefore = { ...client.stats().drops };
    const sent: Promise<void>[] = [];
    const toClient = (d: Buffer): void => {
      sent.push(new Promise((res) => attacker.send(d, r.clientPort(), '127.0.0.1', () => res())));
    };
    toClient(TERMINATE);
    toClient(encodeDatagram(0, Flag.FIN));
    for (let i = 0; i < 20; i++) toClient(encodeAckRecords([{ seq: i, flag: Flag.ACK }]));
    toClient(encodeDatagram(0, Flag.UDP, encodeResponse(2, 1, 1, WRONG.seal(Buffer.from('forged')))));
    await Promise.all(sent);
    await stillWorks(client);
    // Only the three answers (and their acknowledgements) arrived; no drop was counted (but
    // 'duplicate': on a loaded machine the node may resend a DAT whose ACK was late).
    const { duplicate: _late, ...after } = client.stats().drops;
    const { duplicate: _before, ...expected } = dropsBefore;
    expect(after).toEqual(expected);
    expect(client.stats().packetsReceived - received).toBeLessThan(10);
  });

  it('forged datagrams at the node during a native session: dropped, counted, session undisturbed', async () => {
    const { cluster, ep } = await setup();
    const client = newClient();
    await client.connect(ep);
    await stillWorks(client);
    const node = (): Record<string, number> => cluster.stats('udp-1').drops;
    const before = { ...node() };
    const a = await bound();
    const answers: Buffer[] = [];
    a.on('message', (m) => answers.push(m));
    const send = (d: Buffer): void => a.send(d, ep.serverPort, '127.0.0.1');
    const sid = fromHex(ep.sid);
    const c = new SessionCrypto({ key: fromHex(ep.encryptionKey), iv: fromHex(ep.encryptionIV), macKey: fromHex(ep.encryptionMacKey) });

    for (let i = 0; i < 100; i++) send(encodeDatagram(0, Flag.SYN, randomBytes(16)));    // SYN flood, unknown SIDs
    send(Buffer.from([1, 2, 3]));                                                        // truncated
    // The live SID from a foreign address: SYN, sealed DAT, ACK/RACK, FIN, terminate.
    for (let i = 0; i < 20; i++) send(encodeDatagram(0, Flag.SYN, sid));
    send(encodeDatagram(5, Flag.DAT, encodeRequest(2, 1, sid, c.seal(Buffer.from('evil')))));
    send(encodeDatagram(5, Flag.DAT, encodeRequest(2, 1, sid, WRONG.seal(Buffer.from('bad mac')))));
    for (let s = 0; s < 10; s++) send(encodeAckRecords([{ seq: s, flag: Flag.ACK }, { seq: s, flag: Flag.RACK }], sid));
    send(encodeDatagram(0, Flag.FIN, sid));
    send(TERMINATE);
    await until('node drops', () =>
      node().unexpected >= before.unexpected + 100 &&
      node().truncated >= before.truncated + 1 &&
      node()['foreign-address'] >= before['foreign-address'] + 20 + 2 + 10 + 1 + 1,
    );
    expect(answers).toEqual([]);
    expect(cluster.stats('udp-1').sessions).toBe(1);
    await stillWorks(client);
  });
});
