/**
 * bench/c-floor/udp_echo_floor.c, the C floor of bench/udp's CPU table, must be a correct RUDP
 * client, not only a fast one: built as the bench builds it, run against a reference UDP node, it
 * completes its echoes with every answer checked byte for byte (its exit code), across the
 * server's sequence wrap, and it fails (rather than hangs) on a wrong answer or a lost DAT. The
 * TCP floor shares its crypto code (floor_common.h): it still completes its echoes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFloor, runFloor, runUdpFloor, spawnFloor } from '../bench/lib/c-floor';
import { startCluster, type Cluster } from '../src/server';
import { fetchEndpoint } from './helpers/ts-tcp-client';
import { startUdpNodeRig } from './helpers/ts-udp-client';
import { UdpProxy } from './helpers/udp-proxy';

let exe = '';
let cluster: Cluster;

beforeAll(async () => {
  exe = buildFloor('udp_echo_floor');
  // The server's first sequence 12 before the 24-bit wrap: every run below crosses it.
  cluster = await startCluster({ tcpNodes: 1, udpNodes: 1, udp: { initialSeq: 0xfffff4 } });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('the UDP C floor', () => {
  for (const depth of [1, 8, 64]) {
    it(`completes 200 verified echoes at ${depth} in flight (sendmmsg/recvmmsg)`, async () => {
      const ep = await fetchEndpoint(cluster.entryUrl, 'UDP', `floor-${depth}`);
      const r = await spawnFloor(exe, ep, depth, 200, 20);
      expect(r.messages).toBe(200);
      // One DAT per request at 1 in flight (and its ACK), packed 9 to a DAT deeper.
      expect(r.sentPerMessage).toBeGreaterThan(0);
      if (depth === 1) expect(r.sentPerMessage).toBe(2);
      if (depth === 64) expect(r.sentPerMessage).toBeLessThan(0.5);
    });
  }

  it('takes bench/udp\'s explicit warm-up (--cpu-warmup) before the measured echoes', async () => {
    // The wrap records the floor's arguments (depth messages warmup are its 7th to 9th).
    const argsFile = path.join(os.tmpdir(), `floor-warmup-${process.pid}.args`);
    const s = await runUdpFloor(exe, cluster.entryUrl, 8, 200, 'floor-warmup', ['sh', '-c', `echo "$@" > ${argsFile}; exec "$@"`, 'sh'], 3000);
    expect([s.kind, s.messages]).toEqual(['c-floor', 200]);
    expect(fs.readFileSync(argsFile, 'utf8').trim().split(' ').slice(7, 10)).toEqual(['8', '200', '3000']);
    fs.rmSync(argsFile, { force: true });
  });

  it('completes with plain send/recv too', async () => {
    const ep = await fetchEndpoint(cluster.entryUrl, 'UDP', 'floor-plain');
    const r = await spawnFloor(exe, ep, 8, 200, 0, ['plain']);
    expect(r.messages).toBe(200);
  });

  it('fails on an answer that differs from its request', async () => {
    const rig = await startUdpNodeRig();
    try {
      let n = 0;
      rig.router.handle(2, 1, (ctx) => {
        const b = Buffer.from(ctx.payload);
        if (++n === 100) b[40] ^= 1;
        return b;
      });
      await expect(spawnFloor(exe, await rig.register('floor-bad'), 8, 200, 0)).rejects.toThrow(/differs from its request/);
    } finally {
      await rig.stop();
    }
  });

  it('fails on a lost server DAT instead of waiting for it', async () => {
    const ep = await fetchEndpoint(cluster.entryUrl, 'UDP', 'floor-loss');
    const proxy = await UdpProxy.start({ seed: 3, target: { host: ep.serverHost, port: ep.serverPort }, toClient: { lossPct: 30 } });
    try {
      await expect(spawnFloor(exe, { ...ep, serverPort: proxy.port }, 64, 5000, 0)).rejects.toThrow(/lost/);
    } finally {
      await proxy.close();
    }
  });

  it('the TCP floor (the same crypto code, the anchor\'s EVP path) completes its echoes', async () => {
    const tcp = buildFloor('tcp_echo_floor');
    for (const depth of [1, 64]) expect((await runFloor(tcp, cluster.entryUrl, depth, 200, `tcp-floor-${depth}`)).messages).toBe(200);
  });

  it('the TCP floors take bench/tcp-throughput\'s --warmup before the measured echoes', async () => {
    const tcp = buildFloor('tcp_echo_floor');
    const argsFile = path.join(os.tmpdir(), `tcp-floor-warmup-${process.pid}.args`);
    const wrap = ['sh', '-c', `echo "$@" > ${argsFile}; exec "$@"`, 'sh'];
    try {
      const s = await runFloor(tcp, cluster.entryUrl, 8, 200, 'tcp-floor-warmup', wrap, 'c-floor', 3000);
      expect([s.kind, s.messages]).toEqual(['c-floor', 200]);
      expect(fs.readFileSync(argsFile, 'utf8').trim().split(' ').slice(7, 10)).toEqual(['8', '200', '3000']);
      // Without one: the bench's old default, min(2000, messages).
      await runFloor(tcp, cluster.entryUrl, 8, 200, 'tcp-floor-warmup-default', wrap);
      expect(fs.readFileSync(argsFile, 'utf8').trim().split(' ').slice(7, 10)).toEqual(['8', '200', '200']);
    } finally {
      fs.rmSync(argsFile, { force: true });
    }
  });

  it('the lean TCP floor (the native client\'s crypto) completes its echoes', async () => {
    const lean = buildFloor('tcp_echo_floor_lean');
    for (const depth of [1, 64]) {
      const s = await runFloor(lean, cluster.entryUrl, depth, 200, `tcp-lean-${depth}`, [], 'c-floor-lean');
      expect([s.kind, s.messages]).toEqual(['c-floor-lean', 200]);
    }
  });
});
