/**
 * The chaos run's cluster: a redis-server, one `entry` process and N `node` processes (the CLI),
 * with strikes: a random live node gets SIGTERM or SIGKILL, is waited for, and a fresh node
 * process takes its place, so a migration target is always available.
 */
import { RedisServer, RoleProcess } from '../../test/helpers/redis-server';
import type { EndCause } from './ledger';

export interface ChaosClusterOptions {
  nodes: number;
  type: 'TCP' | 'UDP';
  /** Liveness TTL of the nodes (short: a SIGKILLed node leaves the entry's list quickly). */
  nodeTtlMs: number;
  shutdownTimeoutMs: number;
}

interface LiveNode {
  p: RoleProcess;
  port: number;
  id: string;
}

export interface StrikeRecord {
  signal: 'SIGTERM' | 'SIGKILL';
  id: string;
  /** ms from the strike to the process's exit, and to the replacement being ready. */
  exitMs: number;
  replacedMs: number;
  exitCode: number | null;
}

export class ChaosCluster {
  readonly strikes: StrikeRecord[] = [];
  private readonly live: LiveNode[] = [];
  /** port -> strikes on the node listening there (a port may be reused by a later node). */
  private readonly struck = new Map<number, { cause: EndCause; at: number }[]>();
  private nextId = 1;

  private constructor(
    private readonly redis: RedisServer,
    private readonly entry: RoleProcess,
    readonly entryUrl: string,
    private readonly o: ChaosClusterOptions,
  ) {}

  static async start(o: ChaosClusterOptions): Promise<ChaosCluster> {
    const redis = await RedisServer.start();
    const e = await RoleProcess.start(['entry', '--port', '0', '--redis', redis.url]);
    const c = new ChaosCluster(redis, e.p, String(e.ready.url), o);
    for (let i = 0; i < o.nodes; i++) await c.startNode();
    return c;
  }

  /** What struck the node on `port` that a session reached at time `since`, if anything did. */
  causeOf(port: number, since: number): EndCause | null {
    return this.struck.get(port)?.find((s) => s.at >= since)?.cause ?? null;
  }

  /**
   * Strikes the node of a random client (a random node when no client is placed) with `signal`,
   * waits for its exit and for its replacement.
   */
  async strike(signal: 'SIGTERM' | 'SIGKILL', random: () => number, clientPorts: number[]): Promise<StrikeRecord> {
    const placed = this.live.filter((n) => clientPorts.includes(n.port));
    const pool = placed.length > 0 ? placed : this.live;
    const pick = clientPorts.length > 0 && placed.length > 0
      ? placed.find((n) => n.port === clientPorts[Math.floor(random() * clientPorts.length)]) ?? pool[0]
      : pool[Math.floor(random() * pool.length)];
    this.live.splice(this.live.indexOf(pick), 1);
    const victim = pick;
    const t0 = Date.now();
    const list = this.struck.get(victim.port) ?? [];
    list.push({ cause: signal === 'SIGKILL' ? 'sigkill' : 'sigterm', at: t0 });
    this.struck.set(victim.port, list);
    victim.p.kill(signal);
    const cap = setTimeout(() => victim.p.kill('SIGKILL'), this.o.shutdownTimeoutMs + 10_000);
    const { code } = await victim.p.exited;
    clearTimeout(cap);
    const exitMs = Date.now() - t0;
    await this.startNode();
    const rec: StrikeRecord = { signal, id: victim.id, exitMs, replacedMs: Date.now() - t0, exitCode: code };
    this.strikes.push(rec);
    return rec;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.live.map((n) => n.p.stop()), this.entry.stop()]);
    this.live.length = 0;
    await this.redis.stop();
  }

  private async startNode(): Promise<void> {
    const id = `${this.o.type.toLowerCase()}-${this.nextId++}`;
    const { p, ready } = await RoleProcess.start([
      'node', '--type', this.o.type, '--id', id, '--redis', this.redis.url,
      '--node-ttl', String(this.o.nodeTtlMs), '--shutdown-timeout', String(this.o.shutdownTimeoutMs),
    ]);
    this.live.push({ p, port: Number(ready.port), id });
  }
}
