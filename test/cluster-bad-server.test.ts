// The scriptable bad server (test/helpers/bad-server.ts) behaves as scripted, checked with the TS client.
import { afterEach, describe, expect, it } from 'vitest';
import { BadServer, randomBadServerKeys, startBadServer } from './helpers/bad-server';
import { TsTcpClient } from './helpers/ts-tcp-client';

let server: BadServer | null = null;
const clients: TsTcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.close();
  server = null;
});

async function connect(s: BadServer): Promise<TsTcpClient> {
  const c = await TsTcpClient.connect(s.endpoint);
  clients.push(c);
  return c;
}

describe('bad server scripts', () => {
  for (const clear of [false, true]) {
    it(`echo baseline (${clear ? 'clear' : 'encrypted'})`, async () => {
      const keys = randomBadServerKeys();
      server = await startBadServer(clear ? { sid: keys.sid, keys: null } : keys, { kind: 'echo' });
      const c = await connect(server);
      expect((await c.request(2, 1, Buffer.from('x'))).payload.toString()).toBe('x');
      expect(server.connections).toBe(1);
      expect(server.requests.map((r) => [r.ver, r.cmd])).toEqual([
        [0, 1],
        [2, 1],
      ]);
    });
  }

  it('bad-magic and too-large close the client with a protocol error', async () => {
    server = await startBadServer(undefined, { kind: 'bad-magic' });
    expect(await (await connect(server)).closed).toBe('protocol:bad-magic');
    await server.close();
    server = await startBadServer(undefined, { kind: 'too-large' });
    expect(await (await connect(server)).closed).toBe('protocol:too-large');
  });

  it('truncated and die-mid-stream end the connection', async () => {
    server = await startBadServer(undefined, { kind: 'truncated' });
    expect(await (await connect(server)).closed).toBe('closed');
    await server.close();
    server = await startBadServer(undefined, { kind: 'die-mid-stream' });
    expect(await (await connect(server)).closed).toBe('closed');
  });

  it('bad-mac-then-good: the forged answer is dropped, the good one answers', async () => {
    server = await startBadServer(undefined, { kind: 'bad-mac-then-good' });
    const c = await connect(server);
    expect((await c.request(2, 1, Buffer.from('y'))).payload.toString()).toBe('y');
    expect(c.drops['bad-mac']).toBe(1);
  });

  it('refuse and never-answer', async () => {
    server = await startBadServer(undefined, { kind: 'refuse' });
    await expect(TsTcpClient.connect(server.endpoint)).rejects.toThrow('fin:refused');
    await server.close();
    server = await startBadServer(undefined, { kind: 'never-answer' });
    const pending = TsTcpClient.connect(server.endpoint);
    await server.waitForRequests(1);
    expect(server.requests[0].cmd).toBe(1);
    await server.close();
    await expect(pending).rejects.toThrow('closed');
  });
});
