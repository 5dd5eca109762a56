import { createSocket, Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DropReason, encodeRequest, fromHex, SessionCrypto } from '../src/protocol';
import { encodeAckRecords, encodeDatagram, Flag, isParsed, parseDatagram, TERMINATE } from '../src/protocol/rudp';
import type { EndpointInfo } from './helpers/ts-tcp-client';
import { startUdpNodeRig, TsUdpClient, UdpNodeRig } from './helpers/ts-udp-client';

let rig: UdpNodeRig;
let live: TsUdpClient;
let liveEp: EndpointInfo;
const sockets: Socket[] = [];

beforeEach(async () => {
  rig = await startUdpNodeRig({ connectionTtlMs: 60_000 });
  liveEp = await rig.register('live');
  live = await TsUdpClient.connect(liveEp, { retryMinMs: 100, retryMaxMs: 1000, maxRetries: 10 });
  await live.request(2, 1, Buffer.from('warm-up'));
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  if (live.closeReason === null) await live.close();
  await rig.stop();
});

/** An attacker socket; `answers` collects what the node sends back to it. */
async function attacker(): Promise<{ send: (d: Buffer) => void; answers: Buffer[] }> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  sockets.push(s);
  const answers: Buffer[] = [];
  s.on('message', (m) => answers.push(m));
  return { send: (d) => s.send(d, rig.node.port, '127.0.0.1'), answers };
}

const sidOf = (ep: EndpointInfo): Buffer => fromHex(ep.sid);
const cryptoOf = (ep: EndpointInfo): SessionCrypto =>
  new SessionCrypto({ key: fromHex(ep.encryptionKey), iv: fromHex(ep.encryptionIV), macKey: fromHex(ep.encryptionMacKey) });
const WRONG = new SessionCrypto({ key: Buffer.alloc(16, 1), iv: Buffer.alloc(16, 2), macKey: Buffer.alloc(16, 3) });

function chunk(id: number, index: number, count: number, bytes: Buffer): Buffer {
  const h = Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0, 0, 0, 0, 0, 0]);
  h.writeInt16BE(id, 4);
  h.writeInt16BE(index, 6);
  h.writeInt16BE(count, 8);
  return Buffer.concat([h, bytes]);
}

/** The live session still answers in order, nothing of it was closed or lost. */
async function liveStillWorks(): Promise<void> {
  const answers = await Promise.all([1, 2, 3].map((n) => live.request(2, 1, Buffer.from(`after-${n}`))));
  expect(answers.map((a) => a.payload.toString())).toEqual(['after-1', 'after-2', 'after-3']);
  expect(live.closeReason).toBeNull();
  expect(rig.node.stats.sessions).toBeGreaterThanOrEqual(1);
}

function drops(reason: DropReason): number {
  return rig.node.stats.drops[reason];
}

describe('forged datagrams at the UDP node', () => {
  it('unknown SIDs (SYN flood included) are counted and allocate nothing', async () => {
    const a = await attacker();
    const users = rig.node.users;
    // In batches, each awaited, so a small default socket buffer elsewhere cannot lose any.
    for (let b = 1; b <= 6; b++) {
      for (let i = 0; i < 50; i++) a.send(encodeDatagram(0, Flag.SYN, randomBytes(16)));
      await rig.waitForDrops('unexpected', b * 50);
    }
    a.send(encodeDatagram(0, Flag.DAT, encodeRequest(2, 1, randomBytes(16), Buffer.alloc(40))));
    a.send(encodeDatagram(0, Flag.FIN, randomBytes(16)));
    a.send(encodeAckRecords([{ seq: 1, flag: Flag.ACK }], randomBytes(16)));
    await rig.waitForDrops('unexpected', 303);
    expect(rig.node.users).toBe(users);
    expect(a.answers).toEqual([]);
    await liveStillWorks();
  });

  it('truncated headers, unknown flags and malformed bodies are counted', async () => {
    const a = await attacker();
    a.send(Buffer.from([1, 2, 3]));
    a.send(Buffer.from([0, 0, 0, 9]));
    a.send(encodeDatagram(0, Flag.SYN, Buffer.alloc(5)));
    a.send(encodeDatagram(0, Flag.DAT, Buffer.from('FEBEDEEF00', 'hex')));
    a.send(encodeDatagram(0, Flag.DAT, Buffer.alloc(40, 0x11)));
    a.send(encodeDatagram(0, Flag.DAT, Buffer.alloc(1401)));
    a.send(Buffer.alloc(25, 4).fill(0, 0, 3));
    await rig.waitForDrops('truncated', 2);
    await rig.waitForDrops('unknown-flag', 1);
    await rig.waitForDrops('bad-body', 2);
    await rig.waitForDrops('bad-magic', 1);
    await rig.waitForDrops('too-large', 1);
    await liveStillWorks();
  });

  it('SYN, DAT, ACK, RACK, FIN, UDP and terminate from a foreign address never touch a bound session', async () => {
    const a = await attacker();
    const sid = sidOf(liveEp);
    const c = cryptoOf(liveEp);
    for (let i = 0; i < 50; i++) a.send(encodeDatagram(0, Flag.SYN, sid));
    // Even correctly sealed requests: the session is bound to the client's address.
    a.send(encodeDatagram(5, Flag.DAT, encodeRequest(2, 1, sid, c.seal(Buffer.from('evil')))));
    for (let s = 0; s < 20; s++) a.send(encodeAckRecords([{ seq: s, flag: Flag.ACK }, { seq: s, flag: Flag.RACK }], sid));
    a.send(encodeDatagram(0, Flag.FIN, sid));
    a.send(encodeDatagram(0, Flag.UDP, encodeRequest(0, 3, sid, c.seal(Buffer.alloc(8)))));
    a.send(TERMINATE);
    await rig.waitForDrops('foreign-address', 50 + 1 + 20 + 1 + 1 + 1);
    expect(a.answers).toEqual([]);
    await liveStillWorks();
  });

  it('a bad HMAC from the bound address (unreliable, no sequence used) is counted and harmless', async () => {
    const sid = sidOf(liveEp);
    const before = drops('bad-mac');
    live.socket.send(encodeDatagram(0, Flag.UDP, encodeRequest(2, 1, sid, WRONG.seal(Buffer.from('x')))));
    await rig.waitForDrops('bad-mac', before + 1);
    await liveStillWorks();
  });

  it('a half-open handshake with a bad HMAC, bad fragments or a fragment flood binds nothing; the real client still connects', async () => {
    const ep = await rig.register('victim');
    const sid = sidOf(ep);
    const a = await attacker();
    a.send(encodeDatagram(0, Flag.SYN, sid));
    await new Promise<void>((r) => {
      const s = sockets[sockets.length - 1];
      if (a.answers.length > 0) r();
      else s.once('message', () => r());
    });
    const syn = parseDatagram(a.answers[0]);
    expect(isParsed(syn) && syn.flag === Flag.SYN && syn.body.length === 0).toBe(true);
    // A well-formed request sealed with the wrong keys.
    a.send(encodeDatagram(0, Flag.DAT, encodeRequest(2, 1, sid, WRONG.seal(Buffer.from('forged')))));
    await rig.waitForDrops('bad-mac', 1);
    // Fresh handshake for the fragment tests (a failed message forgets its handshake).
    a.send(encodeDatagram(0, Flag.SYN, sid));
    const wrap = (c: Buffer): Buffer => encodeRequest(2, 1, sid, c);
    a.send(encodeDatagram(0, Flag.DAT, wrap(chunk(3, 5, 2, Buffer.alloc(100)))));
    await rig.waitForDrops('bad-fragment', 1);
    const dupsBefore = drops('duplicate');
    // Flood: one id, the same index over and over, then far beyond the receive window.
    a.send(encodeDatagram(1, Flag.DAT, wrap(chunk(7, 0, 3, Buffer.alloc(1300)))));
    for (let b = 0; b < 4; b++) {
      for (let s = 2 + b * 100; s < 102 + b * 100; s++) a.send(encodeDatagram(s, Flag.DAT, wrap(chunk(7, 0, 3, Buffer.alloc(100)))));
      await rig.waitForDrops('duplicate', dupsBefore + (b + 1) * 100);
    }
    a.send(encodeDatagram(5000, Flag.DAT, wrap(chunk(7, 1, 3, Buffer.alloc(1300)))));
    await rig.waitForDrops('out-of-window', 1);
    // SYN flood for the victim's SID from many addresses: bounded records, nothing bound.
    for (let i = 0; i < 10; i++) (await attacker()).send(encodeDatagram(0, Flag.SYN, sid));
    // The real client of that session still connects and is served.
    const real = await TsUdpClient.connect(ep);
    expect((await real.request(2, 2, Buffer.alloc(0))).payload.readUInt32BE(0)).toBe(1);
    await real.close();
    await liveStillWorks();
  });
});
