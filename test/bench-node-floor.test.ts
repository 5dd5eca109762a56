/**
 * The Node floors (bench/node-floor, bench/lib/node-floor.ts) must be correct clients, not only
 * cheap ones: built as the benches build them and run in their own process (the compiled child in
 * dist/: `npm run build` first), against reference nodes. UDP: every mode completes its echoes at
 * 1, 8 and 64 in flight with every answer checked (byte for byte against the sealed answer
 * without crypto, decrypted and compared with its request with it), a wrong answer fails the run,
 * and a lost datagram fails it (a gap in the server's sequence, or no answer for 5 s) instead of
 * hanging. TCP: every mode completes its echoes.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../bench/lib/c-floor';
import { buildNodeFloor, NODE_FLOORS, runNodeFloor } from '../bench/lib/node-floor';
import { startCluster, type Cluster } from '../src/server';
import { fetchEndpoint } from './helpers/ts-tcp-client';
import { UdpProxy } from './helpers/udp-proxy';

let udpAddon = '';
let cluster: Cluster;

beforeAll(async () => {
  if (!fs.existsSync(path.join(repoRoot(), 'dist', 'bench', 'lib', 'node-floor-child.js'))) {
    throw new Error('the floors run dist/bench/lib/node-floor-child.js: npm run build first');
  }
  udpAddon = buildNodeFloor('UDP');
  // The server's first sequence 12 before the 24-bit wrap: every UDP run below crosses it.
  cluster = await startCluster({ tcpNodes: 1, udpNodes: 1, udp: { initialSeq: 0xfffff4 } });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('the UDP Node floors', () => {
  for (const mode of NODE_FLOORS) {
    it(`${mode} completes 300 checked echoes at 1, 8 and 64 in flight`, async () => {
      for (const depth of [1, 8, 64]) {
        const s = await runNodeFloor(udpAddon, cluster.entryUrl, depth, 300, `${mode}-${depth}`, [], mode, 40, 'UDP');
        expect([s.kind, s.depth, s.messages]).toEqual([mode, depth, 300]);
        expect(s.cpuUs).toBeGreaterThan(0);
        // As the C floor: one DAT per request at 1 in flight (and its ACK), packed 9 to a DAT deeper.
        if (depth === 1) expect(s.sentPerMessage).toBe(2);
        if (depth === 64) expect(s.sentPerMessage).toBeLessThan(0.5);
      }
    });
  }

  it('fails on an answer that differs from its request, in every mode', async () => {
    const bad = await startCluster({ tcpNodes: 0, udpNodes: 1 });
    try {
      let n = 0;
      bad.handle(2, 1, (ctx) => {
        const b = Buffer.from(ctx.payload);
        if (++n % 150 === 0) b[40] ^= 1;
        return b;
      });
      for (const mode of NODE_FLOORS) {
        await expect(runNodeFloor(udpAddon, bad.entryUrl, 8, 400, `bad-${mode}`, [], mode, 0, 'UDP')).rejects.toThrow(/differs from its request/);
      }
    } finally {
      await bad.stop();
    }
  });

  // The floor's child asks an entry for its endpoint: this one answers with the cluster's, through the proxy.
  async function viaProxy(faults: { toClient?: { lossPct: number }; toServer?: { lossPct: number } },
    run: (entryUrl: string) => Promise<void>): Promise<void> {
    const node = await fetchEndpoint(cluster.entryUrl, 'UDP', 'probe');
    const proxy = await UdpProxy.start({ seed: 3, target: { host: node.serverHost, port: node.serverPort }, ...faults });
    const entry = http.createServer((req, res) => {
      const uid = decodeURIComponent((req.url ?? '').split('/').pop() ?? '');
      fetchEndpoint(cluster.entryUrl, 'UDP', uid).then((ep) => res.end(JSON.stringify({ ...ep, serverPort: proxy.port })),
        () => res.writeHead(500).end());
    });
    await new Promise<void>((resolve) => entry.listen(0, '127.0.0.1', resolve));
    try {
      await run(`http://127.0.0.1:${(entry.address() as AddressInfo).port}`);
    } finally {
      entry.close();
      await proxy.close();
    }
  }

  it('fails on a lost server DAT instead of waiting for it', async () => {
    await viaProxy({ toClient: { lossPct: 30 } }, async (entryUrl) => {
      await expect(runNodeFloor(udpAddon, entryUrl, 64, 5000, 'loss-in', [], 'crypto-floor', 0, 'UDP')).rejects.toThrow(/lost/);
    });
  });

  it('fails when a lost request leaves it without answers (after 5 s)', async () => {
    await viaProxy({ toServer: { lossPct: 30 } }, async (entryUrl) => {
      await expect(runNodeFloor(udpAddon, entryUrl, 8, 5000, 'loss-out', [], 'node-floor', 0, 'UDP')).rejects.toThrow(/timeout: no answer/);
    });
  }, 20_000);
});

describe('the TCP Node floors', () => {
  it('complete their echoes in every mode at 1 and 64 in flight', async () => {
    const tcpAddon = buildNodeFloor('TCP');
    for (const mode of NODE_FLOORS) {
      for (const depth of [1, 64]) {
        const s = await runNodeFloor(tcpAddon, cluster.entryUrl, depth, 300, `tcp-${mode}-${depth}`, [], mode, 40, 'TCP');
        expect([s.kind, s.messages]).toEqual([mode, 300]);
      }
    }
  });
});
