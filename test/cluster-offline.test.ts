import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, startCluster } from '../src/server';
import { fetchEndpoint, httpGet, TsTcpClient } from './helpers/ts-tcp-client';

let cluster: Cluster | null = null;
const clients: TsTcpClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await cluster?.stop();
  cluster = null;
});

interface Notice {
  ver: number;
  cmd: number;
  body: string;
}

async function connectWithNotice(c: Cluster, uid: string): Promise<{ client: TsTcpClient; notice: Promise<Notice> }> {
  let resolve = (_n: Notice): void => undefined;
  const notice = new Promise<Notice>((r) => (resolve = r));
  const client = await TsTcpClient.connect(await fetchEndpoint(c.entryUrl, 'TCP', uid), {
    onPush: (ver, cmd, p) => resolve({ ver, cmd, body: p.toString('hex') }),
  });
  clients.push(client);
  return { client, notice };
}

describe('node going offline (PROTOCOL 7.1)', () => {
  it('pushes the offline notice to every client at once, leaves rotation, answers with state 2', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    const states: string[] = [];
    cluster.on('node-state', (e) => states.push(`${e.nodeId}:${e.state}`));
    const a = await connectWithNotice(cluster, 'a');
    const b = await connectWithNotice(cluster, 'b');
    await cluster.setNodeState('tcp-1', 'offline');
    const expected = { ver: 0, cmd: 1, body: '020000000000000000' };
    expect(await a.notice).toEqual(expected);
    expect(await b.notice).toEqual(expected);
    expect(a.client.nodeState).toBe('offline');
    expect(await a.client.heartbeat(7)).toEqual({ state: 'offline', ts: 7 });
    // Still serving its clients.
    expect((await b.client.request(2, 1, Buffer.from('still'))).payload.toString()).toBe('still');
    expect((await httpGet(`${cluster.entryUrl}/endpoint/type/TCP/user/c`)).status).toBe(503);
    expect(cluster.nodes[0].state).toBe('offline');
    expect(states).toEqual(['tcp-1:offline']);
  });

  it('new users go to the remaining ONLINE node', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2 });
    await cluster.setNodeState('tcp-1', 'offline');
    for (let i = 0; i < 3; i++) {
      const ep = await fetchEndpoint(cluster.entryUrl, 'TCP', `u${i}`);
      expect(ep.serverPort).toBe(cluster.nodes[1].port);
    }
  });

  it('debug command 902 does the same when exposed', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1, exposeDebugCommands: true });
    const a = await connectWithNotice(cluster, 'a');
    expect((await a.client.request(0, 902)).status).toBe(1);
    expect(await a.notice).toEqual({ ver: 0, cmd: 1, body: '020000000000000000' });
  });

  it('rejects an unknown state', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 1 });
    expect(() => cluster?.setNodeState('tcp-1', 'gone' as 'offline')).toThrow(RangeError);
    expect(() => cluster?.setNodeState('tcp-9', 'offline')).toThrow(RangeError);
  });
});

describe('stop()', () => {
  it('sends Fin server-shutdown to connected clients and resolves when all sockets are closed', async () => {
    cluster = await startCluster({ udpNodes: 0, tcpNodes: 2 });
    const a = await TsTcpClient.connect(await fetchEndpoint(cluster.entryUrl, 'TCP', 'a'));
    const b = await TsTcpClient.connect(await fetchEndpoint(cluster.entryUrl, 'TCP', 'b'));
    await cluster.stop();
    expect(await a.closed).toBe('fin:server-shutdown');
    expect(await b.closed).toBe('fin:server-shutdown');
    expect(await cluster.push('a', 2, 1, Buffer.alloc(0))).toBe(false);
  });
});
