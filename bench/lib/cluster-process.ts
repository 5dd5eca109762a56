/**
 * Runs the reference cluster in a child process, so that a benchmark's process.cpuUsage()
 * measures the client alone. The child prints one JSON line { entryUrl } when ready.
 * Node states and the node list are reachable across the process boundary over IPC
 * (setNodeState, nodes), each call answered by the child with the same request id.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { startCluster } from '../../src/server';
import { senderCounters } from '../../src/protocol/rudp/reliable';
import { nodeTimerCounters } from '../../src/server/udp-node';
import type { MigrationPhaseEvent, NodeInfo, NodeState } from '../../src/server';

export interface ClusterChildArgs {
  tcpNodes?: number;
  udpNodes?: number;
  encryption?: boolean;
  /** How long an OFFLINE node keeps serving (migration benchmarks need it long). */
  shutdownTimeoutMs?: number;
  /** The UDP nodes' reliable sender (default: the node's default, adaptive). */
  udpRetry?: 'adaptive' | 'wire';
  /** TCP nodes' extra claim listeners (default: the cluster's default). */
  claimListeners?: number;
  /** Sockets per UDP node (default: the cluster's default). */
  udpSockets?: number;
  /** ClusterOptions.offlinePacing (default: the cluster's default, on). */
  offlinePacing?: number | false | { window: number; drainMs: number };
}

export interface ClusterChild {
  entryUrl: string;
  /** Sets a node's state in the child; resolves once the child has applied it. */
  setNodeState(id: string, state: NodeState): Promise<void>;
  /** The child's node list (ids, states, user counts). */
  nodes(): Promise<NodeInfo[]>;
  /** Session end reasons, node counters, CPU and event-loop delay of the child so far. */
  stats(): Promise<ClusterChildStats>;
  /** Migration phases of the child's nodes: complete after stop() (sent once, as the child exits). */
  readonly phases: MigrationPhaseEvent[];
  readonly pid: number;
  stop(): Promise<void>;
}

/** The child's own view: why its nodes ended sessions, their counters, its CPU and event-loop delay. */
export interface ClusterChildStats {
  closeReasons: Record<string, number>;
  nodes: { id: string; users: number; requests: number; responses: number; bytesIn: number; bytesOut: number; drops: Record<string, number> }[];
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Event-loop delay of the child since it started (perf_hooks histogram), ms. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  rudpDiag?: Record<string, number>;
  timerDiag?: Record<string, number>;
  /** Garbage collections of the child since it started (perf_hooks 'gc' entries), their total time, its heap in use. */
  gcCount?: number;
  gcMs?: number;
  heapUsedMiB?: number;
}

type Op = { op: 'setNodeState'; id: string; state: NodeState } | { op: 'nodes' } | { op: 'stats' };
type Call = Op & { req: number };
interface Reply { req: number; error?: string; nodes?: NodeInfo[]; stats?: ClusterChildStats }

export function startClusterChild(args: ClusterChildArgs, execArgv: string[] = []): Promise<ClusterChild> {
  // BENCH_CHILD_NODE_ARGS: node flags for the child only, e.g. '--cpu-prof --cpu-prof-dir=/tmp/p'
  // (NODE_OPTIONS refuses --cpu-prof).
  const envArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child: ChildProcess = fork(__filename, ['--child', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...envArgs, ...execArgv] });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextReq = 1;
  const call = (msg: Op): Promise<Reply> =>
    new Promise<Reply>((resolve, reject) => {
      const req = nextReq++;
      pending.set(req, { resolve, reject });
      child.send({ ...msg, req }, (err) => {
        if (err !== null) {
          pending.delete(req);
          reject(err);
        }
      });
    }).then((r) => {
      if (r.error !== undefined) throw new Error(r.error);
      return r;
    });
  const phases: MigrationPhaseEvent[] = [];
  child.on('message', (msg: Partial<Reply> & { phases?: MigrationPhaseEvent[] }) => {
    if (msg.phases !== undefined) phases.push(...msg.phases);
    if (typeof msg.req !== 'number') return;
    const p = pending.get(msg.req);
    pending.delete(msg.req);
    p?.resolve(msg as Reply);
  });
  child.on('exit', () => {
    // A call that the child will never answer fails instead of hanging the benchmark.
    for (const p of pending.values()) p.reject(new Error('cluster child exited'));
    pending.clear();
  });
  return new Promise((resolve, reject) => {
    const early = (code: number | null): void => reject(new Error(`cluster child exited early (${String(code)})`));
    child.once('error', reject);
    child.once('exit', early);
    child.on('message', (msg: { entryUrl?: string }) => {
      if (typeof msg.entryUrl !== 'string') return;
      child.off('exit', early);
      resolve({
        entryUrl: msg.entryUrl,
        phases,
        pid: child.pid ?? 0,
        setNodeState: async (id, state) => {
          await call({ op: 'setNodeState', id, state });
        },
        nodes: async () => (await call({ op: 'nodes' })).nodes ?? [],
        stats: async () => {
          const r = await call({ op: 'stats' });
          if (r.stats === undefined) throw new Error('no stats from the cluster child');
          return r.stats;
        },
        // Done when the child exited and its IPC channel is read to the end (the phases come last).
        stop: async () => {
          const exited = new Promise<void>((done) => child.once('exit', () => done()));
          const drained = child.connected ? new Promise<void>((done) => child.once('disconnect', () => done())) : Promise.resolve();
          child.send('stop');
          await Promise.all([exited, drained]);
        },
      });
    });
  });
}

async function childMain(): Promise<void> {
  const opts = JSON.parse(process.argv[3] ?? '{}') as ClusterChildArgs;
  const cluster = await startCluster({
    tcpNodes: opts.tcpNodes ?? 1,
    udpNodes: opts.udpNodes ?? 0,
    encryption: opts.encryption ?? true,
    ...(opts.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: opts.shutdownTimeoutMs } : {}),
    udp: {
      ...(opts.udpRetry !== undefined ? { retry: opts.udpRetry } : {}),
      ...(opts.udpSockets !== undefined ? { sockets: opts.udpSockets } : {}),
    },
    ...(opts.claimListeners !== undefined ? { claimListeners: opts.claimListeners } : {}),
    ...(opts.offlinePacing !== undefined ? { offlinePacing: opts.offlinePacing } : {}),
  });
  // Kept here and sent once at stop: an IPC message per phase cost the cluster CPU during the very
  // moves it times, and those still queued when the child exited were lost.
  const phases: MigrationPhaseEvent[] = [];
  cluster.on('migration-phase', (phase) => phases.push(phase));
  const closeReasons = new Map<string, number>();
  cluster.on('session-close', (e) => closeReasons.set(e.reason ?? '?', (closeReasons.get(e.reason ?? '?') ?? 0) + 1));
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const gc = { count: 0, ms: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const stats = (): ClusterChildStats => {
    const cpu = process.cpuUsage();
    const nonzero = (d: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(d).filter(([, v]) => v > 0));
    return {
      closeReasons: Object.fromEntries(closeReasons),
      nodes: cluster.nodes.map((n) => {
        const s = cluster.stats(n.id);
        return { id: n.id, users: n.users, requests: s.requests, responses: s.responses, bytesIn: s.bytesIn, bytesOut: s.bytesOut, drops: nonzero(s.drops) };
      }),
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      loopDelayP50Ms: loopDelay.percentile(50) / 1e6,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: loopDelay.max / 1e6,
      rudpDiag: { ...senderCounters },
      timerDiag: { ...nodeTimerCounters },
      gcCount: gc.count,
      gcMs: gc.ms,
      heapUsedMiB: process.memoryUsage().heapUsed / 2 ** 20,
    };
  };
  process.on('message', (m: 'stop' | Call) => {
    if (m === 'stop') {
      void cluster.stop().then(() => {
        if (process.send === undefined) return process.exit(0);
        process.send({ phases }, () => process.exit(0));
      });
      return;
    }
    if (typeof m !== 'object' || m === null || typeof m.req !== 'number') return;
    const reply = (r: Omit<Reply, 'req'>): void => {
      process.send?.({ req: m.req, ...r });
    };
    if (m.op === 'nodes') reply({ nodes: cluster.nodes });
    else if (m.op === 'stats') reply({ stats: stats() });
    else if (m.op === 'setNodeState') {
      Promise.resolve()
        .then(() => cluster.setNodeState(m.id, m.state))
        .then(
          () => reply({}),
          (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
        );
    }
  });
  process.send?.({ entryUrl: cluster.entryUrl });
}

if (require.main === module && process.argv[2] === '--child') void childMain();
