// UdpClient (native DiarkisUdpBase) against the reference cluster's UDP node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, UdpClient, type UdpClientOptions } from '../src/client';
import { startCluster, type Cluster } from '../src/server';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

const pattern = (n: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
};

for (const encryption of [true, false]) {
  describe(`UdpClient round trips (encryption ${encryption ? 'on' : 'off'})`, () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ tcpNodes: 0, udpNodes: 1, encryption });
    });
    afterAll(async () => {
      await cluster.stop();
    });

    const connected = async (uid: string, options?: UdpClientOptions): Promise<UdpClient> => {
      const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid });
      expect(ep.serverType).toBe('UDP');
      expect(ep.encryptionKey === '').toBe(!encryption);
      const client = new UdpClient(options);
      await client.connect(ep);
      return client;
    };

    it('connects, reports its state and sid, and closes gracefully', async () => {
      const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'u-connect' });
      const client = new UdpClient();
      const reasons: string[] = [];
      client.on('disconnect', (r) => reasons.push(r));
      expect(client.state).toBe('idle');
      await client.connect(ep);
      expect(client.state).toBe('connected');
      expect(client.sid).toBe(ep.sid);
      await client.close();
      expect(client.state).toBe('closed');
      expect(reasons).toEqual(['closed-by-user']);
    });

    it('echo (2/1), counter (2/2) and sequence (2/4) answer in FIFO order', async () => {
      const client = await connected('u-cmds');
      const echo = await client.request(2, 1, Buffer.from('hello udp'));
      expect([echo.status, echo.payload.toString()]).toEqual([1, 'hello udp']);
      const counts = await Promise.all(Array.from({ length: 30 }, () => client.request(2, 2)));
      expect(counts.map((a) => a.payload.readUInt32BE(0))).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      const seq = await Promise.all(Array.from({ length: 30 }, (_, i) => client.request(2, 4, u32(i + 1))));
      expect(seq.every((a, i) => a.status === 1 && a.payload.readUInt32BE(0) === i + 1)).toBe(true);
      const data = JSON.parse((await client.request(2, 5)).payload.toString()) as Record<string, number>;
      expect([data.counter, data.lastSeq, data.gaps ?? 0, data.dups ?? 0]).toEqual([30, 30, 0, 0]);
      await client.close();
    });

    it('push-back (2/3), a subscription (2/6) and cluster.push arrive as pushes', async () => {
      const client = await connected('u-push');
      const pushes: string[] = [];
      const six: number[] = [];
      let done: () => void = () => undefined;
      const allSix = new Promise<void>((resolve) => (done = resolve));
      client.on('push', (ver, cmd, payload) => {
        if (ver === 2 && cmd === 6) {
          six.push(payload.readUInt32BE(0));
          if (six.length === 3) done();
        } else {
          pushes.push(`${ver}/${cmd}:${payload.toString()}`);
        }
      });
      client.rsend(2, 3, Buffer.from('pushed'));
      const sub = Buffer.alloc(8);
      sub.writeUInt32BE(3, 0);
      sub.writeUInt32BE(1, 4);
      expect((await client.request(2, 6, sub)).status).toBe(1);
      await allSix;
      expect(six).toEqual([1, 2, 3]);
      expect(await cluster.push('u-push', 2, 9, Buffer.from('from-cluster'))).toBe(true);
      await client.request(2, 1);  // reliable and in order: the pushes before it have arrived
      expect(pushes).toEqual(['2/3:pushed', '2/9:from-cluster']);
      await client.close();
    });

    it('fragmented (> 1300 byte) requests and pushes arrive whole', async () => {
      const client = await connected('u-frag');
      const big = pattern(5000);
      const res = await client.request(2, 1, big);
      expect(res.payload.equals(big)).toBe(true);
      const got = new Promise<Buffer>((resolve) => client.once('push', (_v, _c, p) => resolve(p)));
      client.rsend(2, 3, pattern(3000));
      expect((await got).equals(pattern(3000))).toBe(true);
      await client.close();
    });

    it('send() is one unreliable datagram; too large for one throws payload-too-large', async () => {
      const client = await connected('u-unreliable');
      const got = new Promise<Buffer>((resolve) => client.once('push', (_v, _c, p) => resolve(p)));
      expect(client.send(2, 3, Buffer.from('datagram'))).toBe(true);
      expect((await got).toString()).toBe('datagram');
      expect(() => client.send(2, 1, Buffer.alloc(2000))).toThrow(expect.objectContaining({ code: 'payload-too-large' }));
      await client.close();
      expect(() => client.send(2, 1)).toThrow(expect.objectContaining({ code: 'not-connected' }));
    });

    it('requests made while connecting go out after the handshake', async () => {
      const ep = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'u-early' });
      const client = new UdpClient();
      const connecting = client.connect(ep);
      const early = client.request(2, 1, Buffer.from('early'));
      expect(() => client.send(2, 1)).toThrow(expect.objectContaining({ code: 'not-connected' }));
      await connecting;
      expect((await early).payload.toString()).toBe('early');
      await client.close();
    });

    it("emits 'echo' with the round trip and the public address", async () => {
      const client = await connected('u-echo', { echoIntervalMs: 50 });
      const [rtt, address] = await new Promise<[number, string]>((resolve) =>
        client.once('echo', (r, a) => resolve([r, a])),
      );
      expect(rtt).toBeGreaterThanOrEqual(0);
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(client.stats().heartbeatsAnswered).toBeGreaterThanOrEqual(1);
      await client.close();
    });

    it('destroy() drops the connection at once', async () => {
      const client = await connected('u-destroy');
      const reason = new Promise<string>((resolve) => client.once('disconnect', (r) => resolve(r)));
      client.destroy();
      expect(await reason).toBe('closed-by-user');
      expect(client.state).toBe('closed');
    });
  });
}

describe('UdpClient options', () => {
  it('rejects bad UDP options synchronously', () => {
    expect(() => new UdpClient({ retryMinMs: 0 })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => new UdpClient({ retryMinMs: 500, retryMaxMs: 100 })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
    expect(() => new UdpClient({ maxRetries: 1.5 })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => new UdpClient({ adaptiveRetry: 'yes' as unknown as boolean })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });
});
