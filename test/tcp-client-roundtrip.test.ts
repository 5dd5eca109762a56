// Request/response/push round trips through the native client against the reference cluster.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, TcpClient } from '../src/client';
import { startCluster, type Cluster } from '../src/server';

for (const encryption of [true, false]) {
  describe(`TcpClient round trips (encryption ${encryption ? 'on' : 'off'})`, () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await startCluster({ tcpNodes: 1, udpNodes: 0, encryption });
    });
    afterAll(async () => {
      await cluster.stop();
    });

    const connected = async (uid: string): Promise<TcpClient> => {
      const ep = await getEndpoint(cluster.entryUrl, { type: 'TCP', uid });
      expect(ep.encryptionKey === '').toBe(!encryption);
      const client = new TcpClient();
      await client.connect(ep);
      return client;
    };

    it('connects, reports its state and sid, and closes gracefully', async () => {
      const ep = await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'rt-connect' });
      const client = new TcpClient();
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

    it('echo (2/1) answers with the same body, status 1', async () => {
      const client = await connected('rt-echo');
      const body = Buffer.from('hello diarkis');
      const res = await client.request(2, 1, body);
      expect(res.status).toBe(1);
      expect(Buffer.compare(res.payload, body)).toBe(0);
      await client.close();
    });

    it('an empty body and a large body survive the trip', async () => {
      const client = await connected('rt-sizes');
      expect((await client.request(2, 1)).payload.length).toBe(0);
      const big = Buffer.alloc(200_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      const res = await client.request(2, 1, big);
      expect(res.payload.equals(big)).toBe(true);
      await client.close();
    });

    it('counter (2/2) keeps state across requests, and many requests stay in order', async () => {
      const client = await connected('rt-counter');
      const answers = await Promise.all(Array.from({ length: 50 }, () => client.request(2, 2)));
      expect(answers.map((a) => a.payload.readUInt32BE(0))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      await client.close();
    });

    it('push-back (2/3) arrives as a push event with the body', async () => {
      const client = await connected('rt-push');
      const got = new Promise<[number, number, Buffer]>((resolve) =>
        client.once('push', (ver, cmd, payload) => resolve([ver, cmd, payload])),
      );
      client.send(2, 3, Buffer.from('pushed'));
      const [ver, cmd, payload] = await got;
      expect([ver, cmd, payload.toString()]).toEqual([2, 3, 'pushed']);
      await client.close();
    });

    it('cluster.push reaches the user, and response events fire for every answer', async () => {
      const client = await connected('rt-cluster-push');
      const responses: number[] = [];
      client.on('response', (_v, _c, status) => responses.push(status));
      const got = new Promise<Buffer>((resolve) => client.once('push', (_v, _c, p) => resolve(p)));
      expect(await cluster.push('rt-cluster-push', 2, 9, Buffer.from('from-cluster'))).toBe(true);
      expect((await got).toString()).toBe('from-cluster');
      await client.request(2, 1, Buffer.from('x'));
      expect(responses).toEqual([1]);
      await client.close();
    });

    it('status 4 and 5 answers resolve the request', async () => {
      cluster.handle(7, 1, () => ({ status: 4, payload: Buffer.from('bad') }));
      cluster.handle(7, 2, () => ({ status: 5 }));
      const client = await connected('rt-status');
      const bad = await client.request(7, 1);
      expect([bad.status, bad.payload.toString()]).toEqual([4, 'bad']);
      expect((await client.request(7, 2)).status).toBe(5);
      await client.close();
    });

    it('requests sent while connecting go out once the session is up', async () => {
      const ep = await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'rt-early' });
      const client = new TcpClient();
      const connecting = client.connect(ep);
      expect(client.state).toBe('connecting');
      const early = client.request(2, 1, Buffer.from('early'));
      await connecting;
      expect((await early).payload.toString()).toBe('early');
      await client.close();
    });

    it('heartbeats are answered and reported', async () => {
      const ep = await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'rt-heartbeat' });
      const client = new TcpClient({ heartbeatIntervalMs: 20 });
      await client.connect(ep);
      const rtt = await new Promise<number>((resolve) => client.once('heartbeat', resolve));
      expect(rtt).toBeGreaterThanOrEqual(0);
      expect(client.stats().heartbeatsAnswered).toBeGreaterThanOrEqual(1);
      await client.close();
    });

    it('destroy() drops the connection at once', async () => {
      const client = await connected('rt-destroy');
      const reason = new Promise<string>((resolve) => client.once('disconnect', (r) => resolve(r)));
      client.destroy();
      expect(await reason).toBe('closed-by-user');
      expect(client.state).toBe('closed');
      await client.close();  // closing a closed client resolves at once
    });

    it('stats count packets and bytes both ways', async () => {
      const client = await connected('rt-stats');
      await client.request(2, 1, Buffer.alloc(100));
      const s = client.stats();
      expect(s.packetsSent).toBeGreaterThanOrEqual(2);
      expect(s.packetsReceived).toBeGreaterThanOrEqual(2);
      expect(s.bytesSent).toBeGreaterThan(100);
      expect(s.bytesReceived).toBeGreaterThan(100);
      expect(s.drops['bad-mac']).toBe(0);
      await client.close();
      expect(client.stats().packetsSent).toBe(s.packetsSent);  // the last snapshot stays readable
    });
  });
}
