import { connect as netConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeHeartbeat, encodeRequest, toHex } from '../src/protocol';
import { Cluster, startCluster } from '../src/server';
import type { ClusterEvents } from '../src/server';
import { EndpointInfo, fetchEndpoint, TsTcpClient } from './helpers/ts-tcp-client';

let cluster: Cluster | null = null;
const clients: TsTcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  cluster = null;
});

async function connected(c: Cluster, uid: string): Promise<TsTcpClient> {
  const client = await TsTcpClient.connect(await fetchEndpoint(c.entryUrl, 'TCP', uid));
  clients.push(client);
  return client;
}

/** Raw bytes to the node; resolves when the node closes the connection. */
function rawSession(ep: EndpointInfo, bytes: Buffer[], endAfter = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: ep.serverHost, port: ep.serverPort }, () => {
      for (const b of bytes) s.write(b);
      if (endAfter) s.end();
    });
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(got)));
  });
}

describe('bad requests on a live connection', () => {
  for (const encryption of [true, false]) {
    it(`bad MAC / bad secure / wrong SID are dropped and counted, the connection lives (enc ${encryption})`, async () => {
      cluster = await startCluster({ udpNodes: 0, tcpNodes: 1, encryption });
      const drops: ClusterEvents['drop'][] = [];
      cluster.on('drop', (d) => drops.push(d));
      const c = await connected(cluster, 'm');
      const stats = cluster.stats('tcp-1');
      if (encryption) {
        const forged = c.encode(2, 1, Buffer.from('forged'));
        forged[10 + 16 + 4] ^= 0x01; // first MAC byte
        c.writeRaw(forged);
        c.writeRaw(encodeRequest(2, 1, c.sid, Buffer.alloc(40))); // too short for secure(): bad-secure
      }
      c.writeRaw(encodeRequest(2, 1, Buffer.alloc(16, 9), Buffer.from('x'))); // someone else's SID
      c.writeRaw(encodeRequest(2, 1, Buffer.from('short'))); // no SID at all
      const a = await c.request(2, 1, Buffer.from('ok'));
      expect(a.payload.toString()).toBe('ok');
      if (encryption) {
        expect(stats.drops['bad-mac']).toBe(1);
        expect(stats.drops['bad-secure']).toBe(1);
        expect(drops.map((d) => d.reason)).toEqual(['bad-mac', 'bad-secure', 'unexpected', 'bad-body']);
        expect(drops[0].sid).toBe(toHex(c.sid));
      } else {
        expect(drops.map((d) => d.reason)).toEqual(['unexpected', 'bad-body']);
      }
      expect(stats.protocolErrors).toBe(0);
    });
  }

  it('bad magic is a protocol error: counted, connection closed', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const errors: string[] = [];
    cluster.on('protocol-error', (e) => errors.push(e.reason));
    const c = await connected(cluster, 'bm');
    const bad = c.encode(2, 1, Buffer.from('x'));
    bad[1] = 0;
    c.writeRaw(bad);
    expect(await c.closed).toBe('closed');
    expect(errors).toEqual(['bad-magic']);
    expect(cluster.stats('tcp-1').drops['bad-magic']).toBe(1);
    expect(cluster.nodes[0].users).toBe(0);
  });

  it('a length over maxPayload is a protocol error', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1, maxPayload: 1000 });
    const c = await connected(cluster, 'big');
    expect((await c.request(2, 1, Buffer.alloc(900))).status).toBe(1);
    c.send(2, 1, Buffer.alloc(1000));
    await c.closed;
    expect(cluster.stats('tcp-1').drops['too-large']).toBe(1);
  });

  it('a packet cut by the end of the stream is counted as truncated', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 't');
    const half = encodeRequest(0, 1, Buffer.from(ep.sid, 'hex'), Buffer.alloc(60)).subarray(0, 30);
    await rawSession(ep, [half], true);
    expect(cluster.stats('tcp-1').drops.truncated).toBe(1);
    expect(cluster.stats('tcp-1').refused).toBe(0);
  });
});

describe('the first request', () => {
  it('a non-heartbeat first request is refused with Fin "refused"', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'r');
    const c = await TsTcpClient.connect(ep, { first: { ver: 2, cmd: 1, body: Buffer.from('hi') } });
    clients.push(c);
    expect(await c.closed).toBe('fin:refused');
    expect(cluster.stats('tcp-1').refused).toBe(1);
  });

  it('an unknown SID is refused (Fin in clear: no keys are known)', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'r');
    const bytes = await rawSession(ep, [encodeRequest(0, 1, Buffer.alloc(16, 1), encodeHeartbeat(1))]);
    expect(bytes.toString('hex')).toBe('febedeef00000007000' + '0ff' + Buffer.from('refused').toString('hex'));
  });

  it('a heartbeat that does not authenticate is refused', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'r');
    const wrong = { ...ep, encryptionMacKey: '00'.repeat(16) };
    await expect(TsTcpClient.connect(wrong)).rejects.toThrow('fin:refused');
    expect(cluster.stats('tcp-1').drops['bad-mac']).toBe(1);
  });

  it('a session registered on another node is refused', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2 });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'x');
    const other = cluster.nodes.find((n) => n.port !== ep.serverPort);
    await expect(TsTcpClient.connect({ ...ep, serverPort: other?.port ?? 0 })).rejects.toThrow('fin:refused');
  });

  it('a second connection for the same session takes it over; the first gets Fin "kicked"', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', 'twice');
    const first = await TsTcpClient.connect(ep);
    clients.push(first);
    await first.request(2, 2);
    const second = await TsTcpClient.connect(ep);
    clients.push(second);
    expect(await first.closed).toBe('fin:kicked');
    // Same session, same data.
    expect((await second.request(2, 2)).payload.readUInt32BE(0)).toBe(2);
    expect(cluster.nodes[0].users).toBe(1);
  });
});
