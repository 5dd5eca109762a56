/**
 * The fault proxy (test/helpers/udp-proxy.ts) in a process of its own, for bench/udp-loss. In the
 * bench's process it shared an event loop with the client under test: a client turn of 2000
 * requests (or a GC) held the proxy's delay timers back and released datagrams in clumps, which
 * the senders read as reordering, and the client's CPU was the proxy's latency. Every
 * implementation's run goes through this one child, one proxy at a time.
 */
import { ChildProcess, fork } from 'node:child_process';
import { DirectionCounters, DirectionFaults, UdpProxy } from '../../test/helpers/udp-proxy';
import { Census, WireCensus } from './wire-census';

export interface ProxyRunOptions {
  seed: number;
  targetPort: number;
  faults: DirectionFaults;
  /** Classify the datagrams from mark() on (wire-census.ts). */
  census: boolean;
}

export interface ProxyCounters {
  toServer: DirectionCounters;
  toClient: DirectionCounters;
}

type Op = { op: 'open'; opts: ProxyRunOptions } | { op: 'mark' } | { op: 'close' };
interface Reply {
  req: number;
  port?: number;
  counters?: ProxyCounters;
  census?: Census;
  cpuMs?: number;
}

export interface ProxyProcess {
  /** Starts a proxy in front of 127.0.0.1:targetPort; resolves with its port. */
  open(opts: ProxyRunOptions): Promise<number>;
  /** Counters now (the start of the measured part); the census starts here. */
  mark(): Promise<ProxyCounters>;
  /** Closes the proxy: its counters, census and the child's CPU time (ms) since open. */
  close(): Promise<{ counters: ProxyCounters; census?: Census; cpuMs: number }>;
  stop(): void;
}

export function startProxyProcess(): ProxyProcess {
  const child: ChildProcess = fork(__filename, ['--proxy-child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, (r: Reply) => void>();
  let next = 1;
  child.on('message', (m: Reply) => {
    pending.get(m.req)?.(m);
    pending.delete(m.req);
  });
  const call = (op: Op): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = next++;
      pending.set(req, resolve);
      child.send({ ...op, req }, (e) => {
        if (e !== null) reject(e);
      });
    });
  return {
    open: async (opts) => (await call({ op: 'open', opts })).port ?? 0,
    mark: async () => (await call({ op: 'mark' })).counters as ProxyCounters,
    close: async () => {
      const r = await call({ op: 'close' });
      return { counters: r.counters as ProxyCounters, census: r.census, cpuMs: r.cpuMs ?? 0 };
    },
    stop: () => child.kill(),
  };
}

function childMain(): void {
  let proxy: UdpProxy | null = null;
  let census: WireCensus | null = null;
  let cpu = process.cpuUsage();
  const counters = (): ProxyCounters => structuredClone(proxy?.counters ?? ({} as ProxyCounters));
  process.on('message', (m: Op & { req: number }) => {
    void (async () => {
      const reply = (r: Omit<Reply, 'req'>): void => void process.send?.({ ...r, req: m.req });
      if (m.op === 'open') {
        census = m.opts.census ? new WireCensus() : null;
        cpu = process.cpuUsage();
        proxy = await UdpProxy.start({
          seed: m.opts.seed,
          target: { host: '127.0.0.1', port: m.opts.targetPort },
          toServer: m.opts.faults,
          toClient: m.opts.faults,
          socketBufferBytes: 4 << 20,
          tap: census?.tap,
        });
        reply({ port: proxy.port });
      } else if (m.op === 'mark') {
        census?.start();
        reply({ counters: counters() });
      } else {
        const c = counters();
        await proxy?.close();
        proxy = null;
        const used = process.cpuUsage(cpu);
        reply({ counters: c, census: census?.summary(), cpuMs: (used.user + used.system) / 1000 });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv.includes('--proxy-child')) childMain();
