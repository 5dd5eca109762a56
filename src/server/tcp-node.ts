/**
 * A realtime node over TCP (node:net): owns its sessions, accepts connections, delivers routed
 * pushes, and carries the node state (online / taken / offline).
 */
import { createServer, Server, Socket } from 'node:net';
import {
  BuiltinCmd,
  emptyDropCounts,
  encodeOfflineNotice,
  MIGRATE_NO_TARGET_CODE,
  NodeState,
  PENDING_SESSION_TTL_MS,
  Status,
  VER_BUILTIN,
} from '../protocol';
import { Clock, realClock } from './clock';
import { CommandRouter } from './commands';
import { encodeMigrateAnswer, Handoffs } from './handoff';
import type { RealtimeNode } from './node';
import { Session, SessionLink } from './session';
import type { ClaimResult, ClusterStore, SessionRecord } from './store';
import { TcpConnection, TcpNodeControl } from './tcp-connection';
import type { EmitFn, NodeStats } from './types';
import { LISTEN_BACKLOG } from './limits';

export interface TcpNodeOptions {
  id: string;
  host: string;
  store: ClusterStore;
  router: CommandRouter;
  emit: EmitFn;
  maxPayload: number;
  exposeDebugCommands: boolean;
  /** How long an OFFLINE node serves before Fin 'server-shutdown' to the rest (default 10000). */
  shutdownTimeoutMs?: number;
  /** How long a half-closed connection waits for the client's end (default 5000). */
  lingerMs?: number;
  clock?: Clock;
  /** Migration; without it a migrate request is answered "no target". */
  handoffs?: Handoffs;
  /** Listening port (default 0: ephemeral). */
  port?: number;
}

/** How long a half-closed connection waits for the client's end before it is destroyed. */
const DEFAULT_LINGER_MS = 5000;

export class TcpNode implements RealtimeNode, TcpNodeControl {
  readonly type = 'TCP' as const;
  readonly id: string;
  readonly host: string;
  readonly router: CommandRouter;
  readonly emit: EmitFn;
  readonly maxPayload: number;
  readonly exposeDebugCommands: boolean;
  readonly lingerMs: number;
  readonly stats: NodeStats = {
    connections: 0,
    sessions: 0,
    requests: 0,
    responses: 0,
    pushes: 0,
    bytesIn: 0,
    bytesOut: 0,
    refused: 0,
    protocolErrors: 0,
    handlerErrors: 0,
    drops: emptyDropCounts(),
  };
  port = 0;
  private nodeState: NodeState = 'online';
  private readonly store: ClusterStore;
  private readonly sessions = new Map<string, Session>();
  private readonly connections = new Set<TcpConnection>();
  private readonly server: Server;
  private unsubscribe: (() => void) | null = null;
  private stopping: Promise<void> | null = null;
  readonly clock: Clock;
  private readonly shutdownTimeoutMs: number;
  private readonly handoffs: Handoffs | null;
  private readonly listenPort: number;
  private cancelShutdown: (() => void) | null = null;
  /** The shutdown timeout ran out: a client still here after a failed migration is cut too. */
  private shutdownExpired = false;

  constructor(opts: TcpNodeOptions) {
    this.id = opts.id;
    this.host = opts.host;
    this.store = opts.store;
    this.router = opts.router;
    this.emit = opts.emit;
    this.maxPayload = opts.maxPayload;
    this.exposeDebugCommands = opts.exposeDebugCommands;
    this.lingerMs = opts.lingerMs ?? DEFAULT_LINGER_MS;
    this.clock = opts.clock ?? realClock;
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 10_000;
    this.handoffs = opts.handoffs ?? null;
    this.listenPort = opts.port ?? 0;
    this.server = createServer((socket) => this.onConnection(socket));
  }

  get state(): NodeState {
    return this.nodeState;
  }

  /** Sessions registered here, connected or not yet. */
  get users(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      // A backlog above Node's default 511: a node going offline sends hundreds of clients to
      // its target at once, and SYNs dropped by a full backlog cost each of them a 1 s retry.
      this.server.listen({ port: this.listenPort, host: this.host, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('tcp node: no port');
    this.port = addr.port;
    await this.store.registerNode({ id: this.id, type: this.type, host: this.host, port: this.port, state: this.nodeState });
    this.unsubscribe = await this.store.subscribePushes(this.id, (sid, ver, cmd, payload) =>
      this.deliverPush(sid, ver, cmd, payload),
    );
  }

  /** Section 8: the endpoint API registers a session here before answering the client. */
  adoptSession(rec: SessionRecord): Session {
    const old = this.sessions.get(rec.sid);
    if (old !== undefined) return old;
    const s = new Session(rec);
    this.sessions.set(rec.sid, s);
    this.stats.sessions = this.sessions.size;
    // A session that never connects is forgotten (and leaves the registry).
    s.pendingTimer = setTimeout(() => {
      if (s.link === null) this.endSession(s);
    }, PENDING_SESSION_TTL_MS);
    s.pendingTimer.unref();
    return s;
  }

  /** Local first (sync fast path); otherwise the registry, for sessions registered by another process. */
  findSession(sid: string): Session | null | Promise<Session | null> {
    const s = this.sessions.get(sid);
    if (s !== undefined) return s;
    return this.store.getSession(sid).then((rec) => (rec !== null && rec.nodeId === this.id ? this.adoptSession(rec) : null));
  }

  bind(conn: TcpConnection, session: Session): void {
    const prev = session.link;
    // A new connection for a bound session takes it over; the old one is told why and closed.
    if (prev !== null && prev !== conn) session.fin('kicked');
    this.emit('session-connect', { nodeId: this.id, uid: session.uid, sid: session.sid });
  }

  connectionClosed(conn: TcpConnection): void {
    this.connections.delete(conn);
    this.stats.connections = this.connections.size;
    const s = conn.session;
    if (s !== null && s.link === conn) this.endSession(s);
  }

  /** A push routed to a session of this node (held until it connects). */
  deliverPush(sid: string, ver: number, cmd: number, payload: Buffer): void {
    const s = this.sessions.get(sid);
    if (s === undefined || !s.push(ver, cmd, payload)) {
      this.stats.drops.unexpected++;
      this.emit('drop', { nodeId: this.id, reason: 'unexpected', sid });
    }
  }

  /** Resolves when the registry knows the new state (the notice is pushed at once, before that). */
  setState(state: NodeState): Promise<void> {
    if (state === this.nodeState) return Promise.resolve();
    this.nodeState = state;
    const written = this.store.setNodeState(this.id, state);
    this.emit('node-state', { nodeId: this.id, state });
    this.cancelShutdown?.();
    this.cancelShutdown = null;
    this.shutdownExpired = false;
    if (state === 'offline') {
      this.cancelShutdown = this.clock.setTimer(() => this.shutdownTimeout(), this.shutdownTimeoutMs);
      // PROTOCOL 7.1: every connected client learns it at once.
      const notice = encodeOfflineNotice();
      for (const s of this.sessions.values()) if (s.link !== null) s.push(VER_BUILTIN, BuiltinCmd.KeepAlive, notice);
    }
    return written;
  }

  /**
   * PROTOCOL 7.3-7.5 at the old node, after every earlier request of the client: hand off, answer
   * address || ticket on the link the request came from, then half-close it.
   */
  async migrate(session: Session, link: SessionLink): Promise<void> {
    session.migrating = true;
    try {
      const target = this.handoffs === null || this.stopping !== null ? null : await this.handoffs.migrate(this, session);
      if (target === null) {
        const body = Buffer.allocUnsafe(2);
        body.writeUInt16BE(MIGRATE_NO_TARGET_CODE, 0);
        link.sendPacket(session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Err, body));
        if (this.shutdownExpired && session.link === link) session.fin('server-shutdown');
        return;
      }
      // The session lives on at the target; here it only leaves the map (not the registry).
      this.forget(session);
      link.sendPacket(session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Ok, encodeMigrateAnswer(target.address, target.ticket)));
      link.end();
    } finally {
      session.migrating = false;
    }
  }

  /** PROTOCOL 7.6 at the target: is `ticket` the pending handoff of this session? */
  claim(session: Session, ticket: Buffer): Promise<ClaimResult> {
    if (this.handoffs === null) return Promise.resolve({ ok: false, reason: 'unknown' });
    return this.handoffs.claim(session.sid, ticket);
  }

  /** The handoff TTL ran out unclaimed: the pending session goes (returned for the report). */
  expireHandoff(sid: string): Session | null {
    const s = this.sessions.get(sid);
    if (s === undefined || !s.awaitingClaim || s.link !== null) return null;
    this.endSession(s);
    return s;
  }

  terminate(): void {
    void this.setState('offline');
    for (const s of [...this.sessions.values()]) {
      if (s.link !== null) s.fin('server-shutdown');
      else this.endSession(s);
    }
  }

  /** Closes the listener and every connection (Fin 'server-shutdown' first); resolves when all closed. */
  stop(graceMs = 2000): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      this.cancelShutdown?.();
      this.cancelShutdown = null;
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.unsubscribe?.();
      for (const s of this.sessions.values()) if (s.link !== null) s.fin('server-shutdown');
      for (const c of this.connections) if (c.session === null) c.end();
      const all = Promise.all([...this.connections].map((c) => c.done));
      // Clients get a grace period to close their side; then the rest is cut.
      const timer = setTimeout(() => {
        for (const c of this.connections) c.destroy();
      }, graceMs);
      await all;
      clearTimeout(timer);
      await closed;
      for (const s of [...this.sessions.values()]) this.endSession(s);
      await this.store.unregisterNode(this.id);
    })();
    return this.stopping;
  }

  private onConnection(socket: Socket): void {
    if (this.stopping !== null) {
      socket.destroy();
      return;
    }
    const conn = new TcpConnection(socket, this);
    this.connections.add(conn);
    this.stats.connections = this.connections.size;
  }

  /** PROTOCOL 7.7: clients still here get Fin 'server-shutdown'; a migration under way is spared. */
  private shutdownTimeout(): void {
    this.cancelShutdown = null;
    this.shutdownExpired = true;
    for (const s of [...this.sessions.values()]) {
      const link = s.link;
      if (link === null || s.migrating || (link instanceof TcpConnection && link.migrationPending)) continue;
      s.fin('server-shutdown');
    }
  }

  /** Drops a handed-off session from this node only; the registry already points at the target. */
  private forget(s: Session): void {
    if (this.sessions.get(s.sid) !== s) return;
    this.sessions.delete(s.sid);
    this.stats.sessions = this.sessions.size;
    if (s.pendingTimer !== null) clearTimeout(s.pendingTimer);
  }

  private endSession(s: Session): void {
    if (this.sessions.get(s.sid) !== s) return;
    this.sessions.delete(s.sid);
    this.stats.sessions = this.sessions.size;
    if (s.pendingTimer !== null) clearTimeout(s.pendingTimer);
    s.link = null;
    void this.store.removeSession(s.sid);
    this.emit('session-close', { nodeId: this.id, uid: s.uid, sid: s.sid });
  }
}
