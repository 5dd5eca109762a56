// Bad input from a misbehaving server is reported with a code and counted, never a crash.
import * as dns from 'node:dns';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DiarkisError, TcpClient, type DiarkisErrorCode } from '../src/client';
import { startBadServer, type BadServer, type BadServerScript } from './helpers/bad-server';

const servers: BadServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: BadServerScript): Promise<BadServer> {
  const s = await startBadServer(undefined, script);
  servers.push(s);
  return s;
}

/** Connects, then waits for the disconnect the script provokes. */
async function disconnectAfterConnect(script: BadServerScript): Promise<{ reason: DiarkisErrorCode; client: TcpClient }> {
  const server = await serve(script);
  const client = new TcpClient();
  const reason = new Promise<DiarkisErrorCode>((resolve) => client.once('disconnect', (r) => resolve(r)));
  await client.connect(server.endpoint);
  return { reason: await reason, client };
}

describe('TcpClient against a misbehaving server', () => {
  it('bad magic: protocol-error, counted', async () => {
    const { reason, client } = await disconnectAfterConnect({ kind: 'bad-magic' });
    expect(reason).toBe('protocol-error');
    expect(client.stats().drops['bad-magic']).toBe(1);
    expect(client.state).toBe('closed');
  });

  it('a length over the limit: protocol-error, counted', async () => {
    const { reason, client } = await disconnectAfterConnect({ kind: 'too-large' });
    expect(reason).toBe('protocol-error');
    expect(client.stats().drops['too-large']).toBe(1);
  });

  it('a length over a smaller configured maxPayload is refused too', async () => {
    const server = await serve({ kind: 'too-large', length: 70_000 });
    const client = new TcpClient({ maxPayload: 65_536 });
    const reason = new Promise<string>((resolve) => client.once('disconnect', (r) => resolve(r)));
    await client.connect(server.endpoint);
    expect(await reason).toBe('protocol-error');
  });

  it('a truncated packet, then the server closes: the connection ends with a code', async () => {
    const { reason } = await disconnectAfterConnect({ kind: 'truncated' });
    expect(['closed-by-server', 'protocol-error']).toContain(reason);
  });

  it('the server dies mid-stream: the connection ends with a code', async () => {
    const { reason } = await disconnectAfterConnect({ kind: 'die-mid-stream' });
    expect(['closed-by-server', 'network-error', 'protocol-error']).toContain(reason);
  });

  it('a wrong HMAC is dropped and counted while the connection lives', async () => {
    const server = await serve({ kind: 'bad-mac-then-good' });
    const client = new TcpClient();
    const errors: DiarkisError[] = [];
    client.on('error', (e) => errors.push(e));
    await client.connect(server.endpoint);
    const res = await client.request(2, 1, Buffer.from('genuine'));
    expect(res.payload.toString()).toBe('genuine');
    const res2 = await client.request(2, 1, Buffer.from('again'));
    expect(res2.payload.toString()).toBe('again');
    expect(client.stats().drops['bad-mac']).toBe(2);
    expect(errors.map((e) => e.code)).toEqual(['bad-mac', 'bad-mac']);
    expect(client.state).toBe('connected');
    await client.close();
  });

  it('a bad-mac drop without an error listener does not throw', async () => {
    const server = await serve({ kind: 'bad-mac-then-good' });
    const client = new TcpClient();
    await client.connect(server.endpoint);
    expect((await client.request(2, 1, Buffer.from('x'))).payload.toString()).toBe('x');
    expect(client.stats().drops['bad-mac']).toBe(1);
    await client.close();
  });

  it('a node that refuses the session: connect rejects with refused', async () => {
    const server = await serve({ kind: 'refuse' });
    const err = (await new TcpClient().connect(server.endpoint).catch((e: unknown) => e)) as DiarkisError;
    expect(err).toBeInstanceOf(DiarkisError);
    expect(err.code).toBe('refused');
  });

  it('a server that never answers the first heartbeat: connect-timeout', async () => {
    const server = await serve({ kind: 'never-answer' });
    const client = new TcpClient({ connectTimeoutMs: 200 });
    const err = (await client.connect(server.endpoint).catch((e: unknown) => e)) as DiarkisError;
    expect(err.code).toBe('connect-timeout');
  });

  it('a refused TCP connection: connect rejects with refused', async () => {
    // A port that was just free: listen, note it, close.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const client = new TcpClient();
    const err = (await client
      .connect({
        serverType: 'TCP',
        serverHost: '127.0.0.1',
        serverPort: port,
        sid: '00'.repeat(16),
        encryptionKey: '',
        encryptionIV: '',
        encryptionMacKey: '',
      })
      .catch((e: unknown) => e)) as DiarkisError;
    expect(err).toBeInstanceOf(DiarkisError);
    expect(err.code).toBe('refused');
    expect(client.state).toBe('closed');
  });

  it('a host name is resolved before connecting', async () => {
    // Listen on whatever 'localhost' resolves to first, as the client will.
    const { address } = await dns.promises.lookup('localhost');
    const server = await startBadServer(undefined, { kind: 'echo' }, address);
    servers.push(server);
    const client = new TcpClient();
    await client.connect({ ...server.endpoint, serverHost: 'localhost' });
    expect((await client.request(2, 1, Buffer.from('named'))).payload.toString()).toBe('named');
    await client.close();
  });

  it('an unresolvable host name: network-error', async () => {
    const client = new TcpClient();
    const err = (await client
      .connect({
        serverType: 'TCP',
        serverHost: 'no-such-host.invalid',
        serverPort: 1,
        sid: '00'.repeat(16),
        encryptionKey: '',
        encryptionIV: '',
        encryptionMacKey: '',
      })
      .catch((e: unknown) => e)) as DiarkisError;
    expect(err.code).toBe('network-error');
  });
});
