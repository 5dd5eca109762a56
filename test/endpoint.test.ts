// getEndpoint: the endpoint API's answers and failures, each mapped to one error code.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DiarkisError, getEndpoint, parseEndpoint } from '../src/client';
import { startCluster, type Cluster } from '../src/server';

const HEX = 'a1'.repeat(16);
const GOOD = {
  serverType: 'TCP',
  serverHost: '127.0.0.1',
  serverPort: 7100,
  sid: HEX,
  encryptionKey: HEX,
  encryptionIV: HEX,
  encryptionMacKey: HEX,
};

/** A tiny HTTP server answering every request with `status` and `body`. */
async function fakeEntry(
  status: number,
  body: string,
): Promise<{ url: string; paths: string[]; connections: () => number; close: () => Promise<void> }> {
  const paths: string[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    paths.push(`${req.url ?? ''} ${String(req.headers.clientkey ?? '')}`);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    connections: () => connections,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (e === undefined) return 'resolved';
  expect(e).toBeInstanceOf(DiarkisError);
  return (e as DiarkisError).code;
}

describe('getEndpoint against the reference cluster', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 0, clientKeys: ['secret'] });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('resolves with a valid endpoint for a TCP node', async () => {
    const ep = await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'ep-1', clientKey: 'secret' });
    expect(ep.serverType).toBe('TCP');
    expect(ep.serverPort).toBe(cluster.nodes[0].port);
    expect(ep.sid).toMatch(/^[0-9a-f]{32}$/i);
    expect(ep.encryptionKey).toMatch(/^[0-9a-f]{32}$/i);
  });

  it('a wrong client key: unauthorized', async () => {
    expect(await codeOf(getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'ep-2', clientKey: 'wrong' }))).toBe('unauthorized');
  });

  it('no online node: endpoint-unavailable', async () => {
    expect(await codeOf(getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'ep-3', clientKey: 'secret' }))).toBe(
      'endpoint-unavailable',
    );
  });
});

describe('getEndpoint against a fake entry server', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()));
  });
  const fake = async (status: number, body: string): Promise<string> => {
    const f = await fakeEntry(status, body);
    closers.push(f.close);
    return f.url;
  };

  it('builds the path and sends the client key', async () => {
    const f = await fakeEntry(200, JSON.stringify(GOOD));
    closers.push(f.close);
    await getEndpoint(`${f.url}/base/`, { type: 'UDP', uid: 'a b/c', clientKey: 'k1' });
    expect(f.paths).toEqual(['/base/endpoint/type/UDP/user/a%20b%2Fc k1']);
  });

  it("a connection per call by default; a caller's keep-alive agent reuses one", async () => {
    const f = await fakeEntry(200, JSON.stringify(GOOD));
    closers.push(f.close);
    for (let i = 0; i < 3; i++) await getEndpoint(f.url, { type: 'TCP', uid: `d${i}` });
    expect(f.connections()).toBe(3);
    const agent = new http.Agent({ keepAlive: true });
    try {
      for (let i = 0; i < 3; i++) expect((await getEndpoint(f.url, { type: 'TCP', uid: `k${i}`, agent })).serverPort).toBe(7100);
      expect(f.connections()).toBe(4);
    } finally {
      agent.destroy();
    }
  });

  it('accepts empty key fields (encryption off)', async () => {
    const url = await fake(200, JSON.stringify({ ...GOOD, encryptionKey: '', encryptionIV: '', encryptionMacKey: '' }));
    expect((await getEndpoint(url, { type: 'TCP', uid: 'u' })).encryptionKey).toBe('');
  });

  const garbage: Array<[string, string]> = [
    ['not JSON', 'hello'],
    ['an array', '[1,2]'],
    ['null', 'null'],
    ['a missing port', JSON.stringify({ ...GOOD, serverPort: undefined })],
    ['port 0', JSON.stringify({ ...GOOD, serverPort: 0 })],
    ['port 65536', JSON.stringify({ ...GOOD, serverPort: 65536 })],
    ['a port as a string', JSON.stringify({ ...GOOD, serverPort: '7100' })],
    ['a short sid', JSON.stringify({ ...GOOD, sid: 'abcd' })],
    ['a non-hex key', JSON.stringify({ ...GOOD, encryptionKey: 'zz'.repeat(16) })],
    ['some key fields empty', JSON.stringify({ ...GOOD, encryptionIV: '' })],
    ['an unknown server type', JSON.stringify({ ...GOOD, serverType: 'SCTP' })],
    ['an empty host', JSON.stringify({ ...GOOD, serverHost: '' })],
  ];
  for (const [what, body] of garbage) {
    it(`garbage (${what}): endpoint-error`, async () => {
      expect(await codeOf(getEndpoint(await fake(200, body), { type: 'TCP', uid: 'u' }))).toBe('endpoint-error');
    });
  }

  it('a huge answer: endpoint-error', async () => {
    expect(await codeOf(getEndpoint(await fake(200, 'x'.repeat(200_000)), { type: 'TCP', uid: 'u' }))).toBe('endpoint-error');
  });

  it('HTTP statuses map to codes', async () => {
    expect(await codeOf(getEndpoint(await fake(503, '{"error":"no node"}'), { type: 'TCP', uid: 'u' }))).toBe(
      'endpoint-unavailable',
    );
    expect(await codeOf(getEndpoint(await fake(401, '{}'), { type: 'TCP', uid: 'u' }))).toBe('unauthorized');
    expect(await codeOf(getEndpoint(await fake(400, '{}'), { type: 'TCP', uid: 'u' }))).toBe('invalid-argument');
    expect(await codeOf(getEndpoint(await fake(500, 'boom'), { type: 'TCP', uid: 'u' }))).toBe('endpoint-error');
  });

  it('an unreachable entry server: refused', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    expect(await codeOf(getEndpoint(`http://127.0.0.1:${port}`, { type: 'TCP', uid: 'u' }))).toBe('refused');
  });

  it('a server that never answers: timeout', async () => {
    const server = http.createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    const { port } = server.address() as net.AddressInfo;
    expect(await codeOf(getEndpoint(`http://127.0.0.1:${port}`, { type: 'TCP', uid: 'u', timeoutMs: 100 }))).toBe('timeout');
  });

  it('bad arguments: invalid-argument', async () => {
    const url = 'http://127.0.0.1:1';
    expect(await codeOf(getEndpoint('not a url', { type: 'TCP', uid: 'u' }))).toBe('invalid-argument');
    expect(await codeOf(getEndpoint('ftp://x', { type: 'TCP', uid: 'u' }))).toBe('invalid-argument');
    expect(await codeOf(getEndpoint(url, { type: 'SCTP' as 'TCP', uid: 'u' }))).toBe('invalid-argument');
    expect(await codeOf(getEndpoint(url, { type: 'TCP', uid: '' }))).toBe('invalid-argument');
    expect(await codeOf(getEndpoint(url, { type: 'TCP', uid: 'u', timeoutMs: 0 }))).toBe('invalid-argument');
    expect(await codeOf(getEndpoint(url, { type: 'TCP', uid: 'u', agent: {} as http.Agent }))).toBe('invalid-argument');
    expect(await codeOf(getEndpoint(url, { type: 'TCP', uid: 'u', agent: new https.Agent() }))).toBe('invalid-argument');
  });

  it('parseEndpoint is exported for callers with their own transport', () => {
    expect(parseEndpoint(JSON.stringify(GOOD)).serverPort).toBe(7100);
  });
});
