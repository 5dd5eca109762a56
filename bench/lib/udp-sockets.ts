/**
 * UDP drops and buffer sizes seen from outside the processes (bench/migration --diag): the
 * kernel's counters in /proc/net/snmp (machine-wide: other work on the machine counts too) and,
 * per socket, /proc/net/udp{,6}'s `drops` (datagrams the kernel threw away because that socket's
 * receive buffer was full), attributed by port to the nodes' sockets and to their clients'.
 * Buffer sizes (SO_RCVBUF / SO_SNDBUF as the kernel holds them, doubled) come from `ss -uamn`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface UdpSnapshot {
  /** /proc/net/snmp Udp counters by name (InDatagrams, InErrors, RcvbufErrors, SndbufErrors, ...). */
  snmp: Record<string, number>;
  /** Drops of the sockets bound to the given node ports, summed. */
  nodeDrops: number;
  /** Drops of the sockets whose peer is one of the node ports (the clients), summed; and how many there are. */
  clientDrops: number;
  clientSockets: number;
  /** The deepest receive queue (bytes) among those sockets at the snapshot. */
  maxRxQueue: number;
}

/** The Udp line pair of /proc/net/snmp as a record. */
export function parseSnmp(text: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  const names = (lines[0] ?? '').split(/\s+/).slice(1);
  const values = (lines[1] ?? '').split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i] ?? Number.NaN]));
}

interface SocketRow { localPort: number; remotePort: number; rxQueue: number; drops: number }

/** The rows of /proc/net/udp or udp6 (ports and queues are hex; drops is the last column). */
export function parseProcUdp(text: string): SocketRow[] {
  const out: SocketRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = (a: string): number => parseInt(a.split(':')[1] ?? '', 16);
    const [, rx = '0'] = (f[4] ?? '').split(':');
    out.push({ localPort: port(f[1] ?? ''), remotePort: port(f[2] ?? ''), rxQueue: parseInt(rx, 16), drops: Number(f[f.length - 1]) });
  }
  return out;
}

const read = (f: string): string => {
  try {
    return fs.readFileSync(f, 'utf8');
  } catch {
    return '';
  }
};

export function udpSnapshot(nodePorts: number[]): UdpSnapshot {
  const rows = [...parseProcUdp(read('/proc/net/udp')), ...parseProcUdp(read('/proc/net/udp6'))];
  const ports = new Set(nodePorts);
  const nodes = rows.filter((r) => ports.has(r.localPort) && r.remotePort === 0);
  const clients = rows.filter((r) => ports.has(r.remotePort));
  return {
    snmp: parseSnmp(read('/proc/net/snmp')),
    nodeDrops: nodes.reduce((a, r) => a + r.drops, 0),
    clientDrops: clients.reduce((a, r) => a + r.drops, 0),
    clientSockets: clients.length,
    maxRxQueue: Math.max(0, ...nodes.map((r) => r.rxQueue), ...clients.map((r) => r.rxQueue)),
  };
}

/** b - a of the counters (snmp by name; drops). */
export function udpDelta(a: UdpSnapshot, b: UdpSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ['InDatagrams', 'InErrors', 'RcvbufErrors', 'SndbufErrors']) out[`snmp ${k}`] = (b.snmp[k] ?? 0) - (a.snmp[k] ?? 0);
  out['node socket drops'] = b.nodeDrops - a.nodeDrops;
  out['client socket drops'] = b.clientDrops - a.clientDrops;
  out['max rx queue bytes'] = Math.max(a.maxRxQueue, b.maxRxQueue);
  return out;
}

/** rb / tb (the kernel's SO_RCVBUF / SO_SNDBUF) of one node socket and of one of its clients, from `ss -uamn`. */
export function udpBufferSizes(nodePort: number): { node: string; client: string } {
  let text = '';
  try {
    text = execFileSync('ss', ['-uamn'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch {
    return { node: 'n/a', client: 'n/a' };
  }
  const lines = text.split('\n');
  const mem = (i: number): string => {
    const m = /skmem:\(([^)]*)\)/.exec(lines[i] ?? '') ?? /skmem:\(([^)]*)\)/.exec(lines[i + 1] ?? '');
    const f = Object.fromEntries((m?.[1] ?? '').split(',').map((x) => { const k = /^([a-z_]+)(\d+)$/.exec(x); return [k?.[1] ?? x, k?.[2] ?? '']; }));
    return `rb ${f.rb ?? '?'} tb ${f.tb ?? '?'} d ${f.d ?? '?'}`;
  };
  const cols = (l: string): string[] => l.trim().split(/\s+/);
  const at = (l: string, k: number): string => cols(l)[k] ?? '';
  const ni = lines.findIndex((l) => at(l, 3).endsWith(`:${nodePort}`) && (at(l, 4) === '*:*' || at(l, 4).endsWith(':*')));
  const ci = lines.findIndex((l) => at(l, 4).endsWith(`:${nodePort}`));
  return { node: ni >= 0 ? mem(ni) : 'n/a', client: ci >= 0 ? mem(ci) : 'n/a' };
}
