// Issue 12: a node's several ports (UDP sockets, TCP listeners) handed out in turn.
import { afterEach, describe, expect, it } from 'vitest';
import { PortRotation } from '../src/server/node-ports';
import { parsePorts } from '../src/server/redis-store';
import { startCluster, type Cluster } from '../src/server';
import { UdpNode } from '../src/server/udp-node';
import { CommandRouter } from '../src/server/commands';
import { MemoryStore } from '../src/server/store';

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

describe('PortRotation', () => {
  it('hands out the main port, then each extra port, then starts over; per node', () => {
    const r = new PortRotation();
    const a = { id: 'a', port: 1000, ports: [1001, 1002] };
    const b = { id: 'b', port: 2000 };
    expect([0, 1, 2, 3, 4].map(() => r.pick(a))).toEqual([1000, 1001, 1002, 1000, 1001]);
    expect([r.pick(b), r.pick(b)]).toEqual([2000, 2000]);
    expect(r.pick({ ...a, ports: [] })).toBe(1000);
  });
});

describe('the registry field', () => {
  it('parses comma-separated ports and ignores what is not a port', () => {
    expect(parsePorts(undefined)).toEqual([]);
    expect(parsePorts('')).toEqual([]);
    expect(parsePorts('4000,4001')).toEqual([4000, 4001]);
    expect(parsePorts('4000,x,0,70000,4002')).toEqual([4000, 4002]);
  });
});

describe('UDP node sockets', () => {
  it('refuses a socket count outside 1..64 with a RangeError', () => {
    const base = { id: 'u', host: '127.0.0.1', store: new MemoryStore(), router: new CommandRouter(), emit: () => undefined, maxPayload: 1024, exposeDebugCommands: false };
    expect(() => new UdpNode({ ...base, sockets: 0 })).toThrow(RangeError);
    expect(() => new UdpNode({ ...base, sockets: 65 })).toThrow(RangeError);
    expect(() => new UdpNode({ ...base, sockets: 1.5 })).toThrow(RangeError);
  });

  it('the embedded cluster gives each UDP node 4 sockets and the entry spreads new sessions over them', async () => {
    cluster = await startCluster({ udpNodes: 1, tcpNodes: 1 });
    const c = cluster;
    const udp = c.nodes.find((n) => n.type === 'UDP');
    expect(udp?.ports).toHaveLength(3);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${c.entryUrl}/endpoint/type/UDP/user/u${i}`);
      seen.push(((await r.json()) as { serverPort: number }).serverPort);
    }
    expect(seen.every((p) => c.nodeIdAt(p) === udp?.id)).toBe(true);
    expect(new Set(seen).size).toBe(4);
    // TCP connections keep the main port: a TCP node reads every connection on its own.
    const tcp = c.nodes.find((n) => n.type === 'TCP');
    const t = await fetch(`${c.entryUrl}/endpoint/type/TCP/user/t`);
    expect(((await t.json()) as { serverPort: number }).serverPort).toBe(tcp?.port);
  });
});
