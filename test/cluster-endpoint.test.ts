import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, startCluster } from '../src/server';
import { httpGet } from './helpers/ts-tcp-client';

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const HEX32 = /^[0-9a-f]{32}$/;

describe('endpoint API', () => {
  it('answers a TCP endpoint with the exact PROTOCOL fields and registers the session first', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const r = await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/player-1`, { ClientKey: 'k' });
    expect(r.status).toBe(200);
    const ep = JSON.parse(r.body) as Record<string, unknown>;
    expect(Object.keys(ep)).toEqual([
      'serverType',
      'serverHost',
      'serverPort',
      'sid',
      'encryptionKey',
      'encryptionIV',
      'encryptionMacKey',
    ]);
    const node = cluster.nodes[0];
    expect(ep.serverType).toBe('TCP');
    expect(ep.serverHost).toBe('127.0.0.1');
    expect(ep.serverPort).toBe(node.port);
    for (const f of ['sid', 'encryptionKey', 'encryptionIV', 'encryptionMacKey']) expect(ep[f]).toMatch(HEX32);
    expect(node.users).toBe(1);
  });

  it('returns empty key fields with encryption off', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1, encryption: false });
    const r = await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/u`);
    const ep = JSON.parse(r.body) as Record<string, string>;
    expect(ep.sid).toMatch(HEX32);
    expect([ep.encryptionKey, ep.encryptionIV, ep.encryptionMacKey]).toEqual(['', '', '']);
  });

  it('picks the least loaded ONLINE node', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 3 });
    const ports: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/u${i}`);
      ports.push((JSON.parse(r.body) as { serverPort: number }).serverPort);
    }
    expect(cluster.nodes.map((n) => n.users)).toEqual([2, 2, 2]);
    expect(new Set(ports).size).toBe(3);
  });

  it('skips TAKEN and OFFLINE nodes; 503 JSON when none is ONLINE', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2 });
    await cluster.setNodeState('tcp-1', 'taken');
    const r1 = await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/a`);
    expect((JSON.parse(r1.body) as { serverPort: number }).serverPort).toBe(cluster.nodes[1].port);
    await cluster.setNodeState('tcp-2', 'offline');
    const r2 = await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/a`);
    expect(r2.status).toBe(503);
    expect(JSON.parse(r2.body)).toMatchObject({ error: 'no-node' });
    // No UDP nodes in this cluster: 503 as well.
    const r3 = await httpGet(`${cluster.entryUrl}/endpoint/type/UDP/user/a`);
    expect(r3.status).toBe(503);
  });

  it('400 for a bad type or uid, 404 elsewhere', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/SCTP/user/a`)).status).toBe(400);
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/tcp/user/a`)).status).toBe(400);
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/%E0%A4%A`)).status).toBe(400);
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/a%00b`)).status).toBe(400);
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/${'x'.repeat(300)}`)).status).toBe(400);
    expect((await httpGet(`${cluster.entryUrl}/nope`)).status).toBe(404);
    expect(cluster.nodes[0].users).toBe(0);
  });

  it('401 for a wrong client key when keys are configured', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1, clientKeys: ['secret'] });
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/a`)).status).toBe(401);
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/a`, { ClientKey: 'nope' })).status).toBe(401);
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/a`, { ClientKey: 'secret' })).status).toBe(200);
  });
});
