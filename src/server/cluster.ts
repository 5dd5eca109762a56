/**
 * startCluster(): the embedded reference cluster — an entry server (endpoint API) and realtime
 * nodes in this process, sharing one ClusterStore.
 */
import { EventEmitter } from 'node:events';
import { DEFAULT_HANDOFF_TTL_MS, DEFAULT_MAX_PAYLOAD, DEFAULT_SHUTDOWN_TIMEOUT_MS, NodeState } from '../protocol';
import { Clock, realClock } from './clock';
import { CommandRouter, registerSampleCommands } from './commands';
import { EntryServer } from './entry';
import { Handoffs, sessionAdopter } from './handoff';
import type { RealtimeNode } from './node';
import { RedisStore } from './redis-store';
import { isRedisUrl } from './redis-url';
import { nodeMessageHandler } from './forward';
import { RedisRooms } from './rooms/redis-rooms';
import { emitWithRooms } from './rooms/room-events';
import { Rooms, type ClusterRooms, type RoomInfo } from './rooms/rooms';
import type { RoomNode } from './rooms/room-migration';
import type { OfflinePacing } from './offline-pacer';
import { ClusterStore, MemoryStore } from './store';
import { TcpNode } from './tcp-node';
import { UdpNode, type UdpNodeOptions } from './udp-node';
import type { ClusterEvents, CommandHandler, EmitFn, NodeInfo, NodeStats } from './types';

/**
 * Claim listeners per TCP node when several share the process (TcpNodeOptions.claimListeners):
 * libuv accepts one connection per listener per loop turn, so 500 migrating clients wait about
 * 16 turns of the shared, busy process with 32 (63 with 8).
 */
const DEFAULT_CLAIM_LISTENERS = 32;
/** Sockets per UDP node (UdpNodeOptions.sockets): a storm is read 4 x 32 datagrams per loop turn. */
const DEFAULT_UDP_SOCKETS = 4;

export interface ClusterOptions {
  /** UDP nodes to start (default 1). */
  udpNodes?: number;
  /** TCP nodes to start (default 1). */
  tcpNodes?: number;
  /** Address every server listens on (default '127.0.0.1'); ports are ephemeral. */
  host?: string;
  /**
   * 'memory' (default), a Redis URL ('redis://host:port', 'rediss://user:password@host:port') for
   * a cluster spanning processes and machines, or a store instance. A URL's store is owned (closed
   * on stop); an instance is the caller's.
   */
  store?: 'memory' | string | ClusterStore;
  /** How long an OFFLINE node keeps serving before it cuts its clients (default 10000). */
  shutdownTimeoutMs?: number;
  /** Serve debug commands 900-903 (default false). */
  exposeDebugCommands?: boolean;
  /** Hand out session keys and encrypt (default true); off = empty key fields, clear bodies. */
  encryption?: boolean;
  /** Accepted ClientKey header values; none = any key accepted. */
  clientKeys?: string[];
  /** Largest request payload a node accepts (default 1 MiB). */
  maxPayload?: number;
  /** How long a handed-off session waits for its claim at the target (default 30000). */
  handoffTtlMs?: number;
  /** TCP: how long a half-closed connection waits for the client's end (default 5000). */
  lingerMs?: number;
  /**
   * TCP: extra listeners per node that migrations between this cluster's nodes connect to, in
   * turn (default 8 with two or more TCP nodes, else 0; see TcpNodeOptions.claimListeners).
   */
  claimListeners?: number;
  /**
   * How an OFFLINE node sends its offline notices (issue 12): by default a window of 16 sessions at
   * first, the next as earlier ones' moves complete (claimed at the target) or they disconnect (a
   * notice's slot is freed after 1000 ms at most; the window grows while moves do not queue more
   * than 100 ms over the fastest and shrinks when they do; everyone is notified within 3000 ms, and
   * by half the shutdown timeout), so each client's move waits for few others.
   * `false` (or 0): every session at once, as PROTOCOL 7.1 says. A number: the window.
   */
  offlinePacing?: OfflinePacing;
  /** Time source of the shutdown timeout, handoff expiry and notice pacing (tests pass a ManualClock). */
  clock?: Clock;
  /** PROTOCOL 10.2: how long a room's node waits for the owner's 1/7 before moving it itself (default 5000). */
  roomMigrationGraceMs?: number;
  /**
   * UDP nodes: resend policy, silent-client TTL, socket buffers, sockets per node and ACK delay
   * (default: wire defaults, 4 MiB, 4 sockets: ephemeral ports that sessions and migrations are
   * spread over, 4 ms).
   */
  udp?: Pick<UdpNodeOptions, 'retry' | 'retryMinMs' | 'retryMaxMs' | 'maxRetries' | 'adaptive' | 'rtoMinMs' | 'connectionTtlMs' | 'socketBufferBytes' | 'initialSeq' | 'sockets' | 'ackDelayMs'>;
}

export interface Cluster {
  on<K extends keyof ClusterEvents>(event: K, listener: (info: ClusterEvents[K]) => void): this;
  once<K extends keyof ClusterEvents>(event: K, listener: (info: ClusterEvents[K]) => void): this;
  off<K extends keyof ClusterEvents>(event: K, listener: (info: ClusterEvents[K]) => void): this;
}

export class Cluster extends EventEmitter {
  readonly shutdownTimeoutMs: number;
  private readonly store: ClusterStore;
  private readonly ownsStore: boolean;
  private readonly router = new CommandRouter();
  private readonly nodeMap = new Map<string, RealtimeNode>();
  private readonly handoffs: Handoffs;
  private readonly roomService: Rooms | RedisRooms;
  /** What nodes and handoffs emit: rooms follow sessions, handoffs and node states first. */
  private readonly nodeEmit: EmitFn;
  private readonly entry: EntryServer;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopping: Promise<void> | null = null;

  /**
   * Use startCluster(); the constructor does not listen. A URL store must be connected first
   * (startCluster does that) and passed as an instance with `ownsStore` = true.
   */
  constructor(
    private readonly opts: ClusterOptions = {},
    ownsStore = false,
  ) {
    super();
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    const s = opts.store ?? 'memory';
    const clock = opts.clock ?? realClock;
    if (typeof s === 'string' && s !== 'memory') throw new RangeError('a Redis store URL is connected by startCluster()');
    this.store = s === 'memory' ? new MemoryStore({ clock }) : s;
    const raw: EmitFn = (event, info) => this.emit(event, info);
    const roomNodes = this.nodeMap as unknown as ReadonlyMap<string, RoomNode>;
    // On Redis the rooms are the cluster's across processes; in memory, this process's.
    this.roomService =
      this.store instanceof RedisStore
        ? new RedisRooms({ store: this.store, nodes: roomNodes, clock, emit: raw, graceMs: opts.roomMigrationGraceMs })
        : new Rooms({
            store: this.store,
            nodes: roomNodes,
            clock,
            emit: raw,
            handoffTtlMs: opts.handoffTtlMs ?? DEFAULT_HANDOFF_TTL_MS,
            graceMs: opts.roomMigrationGraceMs,
          });
    this.nodeEmit = emitWithRooms(this.roomService as ClusterRooms, raw);
    this.handoffs = new Handoffs({
      store: this.store,
      nodes: this.nodeMap,
      ttlMs: opts.handoffTtlMs ?? DEFAULT_HANDOFF_TTL_MS,
      clock,
      emit: this.nodeEmit,
    });
    this.ownsStore = s === 'memory' || ownsStore;
    registerSampleCommands(this.router, {
      // A failed push ends the stream and is reported (the sample command does not catch).
      routePush: (uid, ver, cmd, payload) =>
        this.push(uid, ver, cmd, payload).catch((error: unknown) => {
          this.emit('store-error', { op: 'routePush', error });
          return false;
        }),
      schedule: (ms, fn) => this.schedule(ms, fn),
    });
    this.entry = new EntryServer({
      host: opts.host ?? '127.0.0.1',
      store: this.store,
      encryption: opts.encryption ?? true,
      clientKeys: opts.clientKeys,
      register: async (node, rec) => {
        // On the node first, so a push routed as soon as the store knows the session finds it.
        this.nodeMap.get(node.id)?.adoptSession(rec);
        await this.store.registerSession(rec);
      },
    });
  }

  get entryUrl(): string {
    return this.entry.entryUrl;
  }

  get nodes(): NodeInfo[] {
    return [...this.nodeMap.values()].map((n) => ({
      id: n.id,
      type: n.type,
      host: n.host,
      port: n.port,
      ...(n instanceof TcpNode || n instanceof UdpNode ? portsOf(n) : {}),
      state: n.state,
      users: n.users,
    }));
  }

  /** The node listening on `port`: its main port, a TCP node's claim listener or a UDP node's other socket. */
  nodeIdAt(port: number): string | undefined {
    for (const n of this.nodeMap.values()) {
      if (n.port === port || ((n instanceof TcpNode || n instanceof UdpNode) && n.listensOn(port))) return n.id;
    }
    return undefined;
  }

  /** Counters of one node (a live object: read, do not keep). */
  stats(id: string): NodeStats {
    return this.mustNode(id).stats;
  }

  async start(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    const emit = this.nodeEmit;
    const tcp = this.opts.tcpNodes ?? 1;
    for (let i = 1; i <= tcp; i++) {
      const node = new TcpNode({
        id: `tcp-${i}`,
        host,
        store: this.store,
        router: this.router,
        emit,
        maxPayload: this.opts.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        exposeDebugCommands: this.opts.exposeDebugCommands ?? false,
        shutdownTimeoutMs: this.shutdownTimeoutMs,
        offlinePacing: this.opts.offlinePacing,
        lingerMs: this.opts.lingerMs,
        claimListeners: this.opts.claimListeners ?? (tcp >= 2 ? DEFAULT_CLAIM_LISTENERS : 0),
        clock: this.opts.clock,
        handoffs: this.handoffs,
        rooms: this.roomService,
      });
      this.nodeMap.set(node.id, node);
    }
    const udp = this.opts.udpNodes ?? 1;
    for (let i = 1; i <= udp; i++) {
      const node = new UdpNode({
        ...this.opts.udp,
        sockets: this.opts.udp?.sockets ?? DEFAULT_UDP_SOCKETS,
        id: `udp-${i}`,
        host,
        store: this.store,
        router: this.router,
        emit,
        maxPayload: this.opts.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        exposeDebugCommands: this.opts.exposeDebugCommands ?? false,
        shutdownTimeoutMs: this.shutdownTimeoutMs,
        offlinePacing: this.opts.offlinePacing,
        clock: this.opts.clock,
        handoffs: this.handoffs,
        rooms: this.roomService,
      });
      this.nodeMap.set(node.id, node);
    }
    // Multi-process stores: sessions registered or handed over by other processes are adopted here.
    for (const n of this.nodeMap.values()) this.store.setSessionAdopter?.(n.id, sessionAdopter(n));
    for (const n of this.nodeMap.values()) {
      this.store.setNodeMessageHandler?.(n.id, nodeMessageHandler(n as TcpNode | UdpNode, this.roomService));
    }
    await this.handoffs.start();
    await Promise.all([...this.nodeMap.values()].map((n) => n.start()));
    await this.entry.start();
  }

  /** 'offline' = PROTOCOL 7.1: leaves the rotation and pushes the offline notice to every client. */
  setNodeState(id: string, state: NodeState): Promise<void> {
    if (state !== 'online' && state !== 'taken' && state !== 'offline') throw new RangeError(`bad state: ${String(state)}`);
    return this.mustNode(id).setState(state);
  }

  /** The rooms of this process now (PROTOCOL 10), for tests and tools; on Redis use listRooms(). */
  rooms(): RoomInfo[] {
    return this.roomService instanceof Rooms ? this.roomService.list() : [];
  }

  /** The rooms of the cluster (on Redis: of every process sharing the store). */
  listRooms(): Promise<RoomInfo[]> {
    return this.roomService instanceof Rooms ? Promise.resolve(this.roomService.list()) : this.roomService.list();
  }

  /** Registers a command handler on every node (replaces a sample command with the same ver/cmd). */
  handle(ver: number, cmd: number, handler: CommandHandler): void {
    this.router.handle(ver, cmd, handler);
  }

  /** Pushes to a user wherever its session is; false when the user has none. */
  push(uid: string, ver: number, cmd: number, payload: Uint8Array): Promise<boolean> {
    if (this.stopping !== null) return Promise.resolve(false);
    return this.store.routePush(uid, ver, cmd, Buffer.from(payload));
  }

  /** Closes the entry server and every node; resolves when all sockets are closed. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      // A room migration's last steps run after its members left (PROTOCOL 10.5): it ends first.
      await this.roomService.idle();
      this.handoffs.stop();
      this.roomService.stop();
      await Promise.all([this.entry.stop(), ...[...this.nodeMap.values()].map((n) => n.stop())]);
      if (this.ownsStore) await this.store.close();
    })();
    return this.stopping;
  }

  private schedule(ms: number, fn: () => void): void {
    if (this.stopping !== null) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private mustNode(id: string): RealtimeNode {
    const n = this.nodeMap.get(id);
    if (n === undefined) throw new RangeError(`unknown node: ${id}`);
    return n;
  }
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  let c: Cluster;
  const s = opts.store;
  if (typeof s === 'string' && s !== 'memory') {
    if (!isRedisUrl(s)) throw new RangeError(`store must be 'memory', a redis:// or rediss:// URL, or a store: ${s}`);
    // Rejects with an error naming the URL when Redis cannot be reached.
    c = new Cluster({ ...opts, store: await RedisStore.connect({ url: s }) }, true);
  } else c = new Cluster(opts);
  try {
    await c.start();
  } catch (err) {
    await c.stop();
    throw err;
  }
  return c;
}

function portsOf(n: TcpNode | UdpNode): { ports?: number[] } {
  const ports = n.ports;
  return ports.length > 0 ? { ports } : {};
}
