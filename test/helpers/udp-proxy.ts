/**
 * A fault-injecting UDP proxy for tests and benchmarks. Clients send to the proxy's one listening
 * socket; each client address gets its own upstream socket to the server (so the server still sees
 * one address per client). Every fault decision comes from a seeded PRNG, so a failing run can be
 * replayed with the same seed (timing of the OS aside).
 */
import { createSocket, RemoteInfo, Socket } from 'node:dgram';

/** mulberry32: small, fast, seedable; not for cryptography. Returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface DirectionFaults {
  /** Percentages 0..100. */
  lossPct?: number;
  duplicatePct?: number;
  /** Held back and sent after the next datagram of the same direction. */
  reorderPct?: number;
  delayMs?: number;
  /** Uniform extra delay in [0, jitterMs). */
  jitterMs?: number;
}

export interface DirectionCounters {
  received: number;
  forwarded: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  bytes: number;
}

export type Direction = 'toServer' | 'toClient';

export interface UdpProxyOptions {
  target: { host: string; port: number };
  /** Listening address (default 127.0.0.1, port 0). */
  host?: string;
  seed?: number;
  toServer?: DirectionFaults;
  toClient?: DirectionFaults;
  /** Longest a reordered datagram waits for a successor before it goes anyway (default 50 ms). */
  reorderMaxHoldMs?: number;
  /**
   * Receive/send buffer size asked for on every proxy socket (default: the OS default, about
   * 208 KiB on Linux, which a burst of a few hundred datagrams overruns: silent kernel drops).
   * The OS may cap it (net.core.rmem_max); `buffers` reports what was obtained.
   */
  socketBufferBytes?: number;
  /** Called with every datagram received, either way, before any fault (benchmarks' census). */
  tap?: (dir: Direction, msg: Buffer) => void;
}

function emptyCounters(): DirectionCounters {
  return { received: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0, bytes: 0 };
}

interface Held {
  send: () => void;
  timer: NodeJS.Timeout;
}

export class UdpProxy {
  readonly counters: Record<Direction, DirectionCounters> = { toServer: emptyCounters(), toClient: emptyCounters() };
  /** Buffer sizes obtained on the listening socket (0 = unknown). */
  readonly buffers = { recvBytes: 0, sendBytes: 0 };
  private readonly faults: Record<Direction, DirectionFaults>;
  private readonly rand: () => number;
  private readonly upstreams = new Map<string, Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly held: Record<Direction, Held | null> = { toServer: null, toClient: null };
  private closed = false;

  private constructor(
    private readonly listener: Socket,
    private readonly opts: UdpProxyOptions,
  ) {
    this.rand = seededRandom(opts.seed ?? 1);
    this.faults = { toServer: { ...opts.toServer }, toClient: { ...opts.toClient } };
    listener.on('message', (msg, rinfo) => this.fromClient(msg, rinfo));
    listener.on('error', () => undefined);
    this.enlarge(listener);
    try {
      this.buffers.recvBytes = listener.getRecvBufferSize();
      this.buffers.sendBytes = listener.getSendBufferSize();
    } catch {
      /* not bound: stays 0 */
    }
  }

  /** Applies socketBufferBytes to a bound socket; refusals keep the OS default. */
  private enlarge(s: Socket): void {
    const bytes = this.opts.socketBufferBytes;
    if (bytes === undefined || bytes <= 0) return;
    try {
      s.setRecvBufferSize(bytes);
      s.setSendBufferSize(bytes);
    } catch {
      /* tolerated: the OS default stays */
    }
  }

  static async start(opts: UdpProxyOptions): Promise<UdpProxy> {
    const host = opts.host ?? '127.0.0.1';
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    return new UdpProxy(s, opts);
  }

  get host(): string {
    return this.listener.address().address;
  }

  get port(): number {
    return this.listener.address().port;
  }

  /** Changes the faults of one direction from now on. */
  setFaults(dir: Direction, faults: DirectionFaults): void {
    this.faults[dir] = { ...faults };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const d of ['toServer', 'toClient'] as const) {
      const h = this.held[d];
      if (h !== null) clearTimeout(h.timer);
      this.held[d] = null;
    }
    const socks = [this.listener, ...this.upstreams.values()];
    this.upstreams.clear();
    return Promise.all(socks.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
  }

  private fromClient(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    const key = `${rinfo.address}|${rinfo.port}`;
    let up = this.upstreams.get(key);
    if (up === undefined) {
      const sock = createSocket(this.opts.target.host.includes(':') ? 'udp6' : 'udp4');
      sock.on('error', () => undefined);
      // Bound implicitly by the first send; buffer sizes can only be set once bound.
      sock.once('listening', () => this.enlarge(sock));
      sock.on('message', (back) => {
        if (this.closed) return;
        this.apply('toClient', back, () => this.listener.send(back, rinfo.port, rinfo.address));
      });
      this.upstreams.set(key, sock);
      up = sock;
    }
    const s = up;
    this.apply('toServer', msg, () => s.send(msg, this.opts.target.port, this.opts.target.host));
  }

  /** Loss, duplicate, reorder and delay decisions for one datagram; draws happen in a fixed order. */
  private apply(dir: Direction, msg: Buffer, send: () => void): void {
    const f = this.faults[dir];
    const c = this.counters[dir];
    c.received++;
    this.opts.tap?.(dir, msg);
    const lose = this.rand() * 100 < (f.lossPct ?? 0);
    const dup = this.rand() * 100 < (f.duplicatePct ?? 0);
    const reorder = this.rand() * 100 < (f.reorderPct ?? 0);
    const jitter = this.rand() * (f.jitterMs ?? 0);
    if (lose) {
      c.dropped++;
      return;
    }
    const forward = (): void => {
      if (this.closed) return;
      c.forwarded++;
      c.bytes += msg.length;
      send();
    };
    const copies = dup ? 2 : 1;
    if (dup) c.duplicated++;
    const delay = (f.delayMs ?? 0) + jitter;
    for (let i = 0; i < copies; i++) {
      const go = (): void => this.releaseOrHold(dir, forward, reorder && i === 0);
      if (delay > 0) {
        c.delayed++;
        const t = setTimeout(() => {
          this.timers.delete(t);
          go();
        }, delay);
        this.timers.add(t);
      } else go();
    }
  }

  private releaseOrHold(dir: Direction, forward: () => void, hold: boolean): void {
    if (this.closed) return;
    const prev = this.held[dir];
    if (hold && prev === null) {
      this.counters[dir].reordered++;
      const timer = setTimeout(() => {
        if (this.held[dir]?.send === forward) this.held[dir] = null;
        forward();
      }, this.opts.reorderMaxHoldMs ?? 50);
      this.held[dir] = { send: forward, timer };
      return;
    }
    forward();
    if (prev !== null) {
      // The held one goes after its successor: that is the reordering.
      clearTimeout(prev.timer);
      this.held[dir] = null;
      prev.send();
    }
  }
}
