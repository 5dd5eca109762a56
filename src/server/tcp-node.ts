/**
 * A realtime node over TCP (node:net): owns its sessions, accepts connections, delivers routed
 * pushes, and carries the node state (online / taken / offline).
 */
import { createServer, Server, Socket } from 'node:net';
import { BuiltinCmd, encodeOfflineNotice, PENDING_SESSION_TTL_MS, VER_BUILTIN } from '../protocol';
import { adoptFromRegistry } from './handoff';
import { LISTEN_BACKLOG } from './limits';
import { emitPhase } from './migration-phases';
import { HandOffSteps, NodeBase, NodeBaseOptions } from './node-base';
import { Session, SessionLink } from './session';
import type { ClaimResult, SessionRecord } from './store';
import { TcpConnection, TcpNodeControl } from './tcp-connection';

export interface TcpNodeOptions extends NodeBaseOptions {
  /** How long a half-closed connection waits for the client's end (default 5000). */
  lingerMs?: number;
  /** Listening port (default 0: ephemeral). */
  port?: number;
  /**
   * Extra listening sockets (ephemeral ports) that migrate answers from nodes in this process
   * name in turn (default 0; a cluster of several TCP nodes in one process uses 8). libuv 1.45+
   * accepts one connection per listener per event-loop turn, so a migration storm into a busy
   * process waits one loop turn per client on a single listener.
   */
  claimListeners?: number;
}

/** How long a half-closed connection waits for the client's end before it is destroyed. */
const DEFAULT_LINGER_MS = 5000;
const OFFLINE_NOTICE = encodeOfflineNotice();


export class TcpNode extends NodeBase implements TcpNodeControl {
  readonly type = 'TCP' as const;
  readonly lingerMs: number;
  private readonly sessions = new Map<string, Session>();
  private readonly connections = new Set<TcpConnection>();
  private readonly server: Server;
  private readonly listenPort: number;
  /** Extra listeners for claims (see TcpNodeOptions.claimListeners) and their ports. */
  private readonly claimServers: Server[] = [];
  private readonly claimPorts: number[] = [];
  private nextClaimPort = 0;
  /** The session bind() is connecting (its link is set right after). */
  private binding: Session | null = null;

  constructor(opts: TcpNodeOptions) {
    super(opts);
    this.lingerMs = opts.lingerMs ?? DEFAULT_LINGER_MS;
    this.listenPort = opts.port ?? 0;
    this.server = createServer((socket) => this.onConnection(socket));
    const extra = opts.claimListeners ?? 0;
    if (!Number.isInteger(extra) || extra < 0 || extra > 64) throw new RangeError(`claimListeners: an integer 0..64, not ${String(extra)}`);
    for (let i = 0; i < extra; i++) this.claimServers.push(createServer((socket) => this.onConnection(socket)));
  }

  /** Sessions registered here, connected or not yet. */
  get users(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    this.port = await this.listen(this.server, this.listenPort);
    for (const s of this.claimServers) this.claimPorts.push(await this.listen(s, 0));
    await this.register();
  }

  /**
   * Where an in-process migration sends its client: the claim listeners in turn (the main port
   * when there are none). Clients of other processes get the registry's port.
   */
  claimAddress(): { host: string; port: number } {
    if (this.claimPorts.length === 0) return { host: this.host, port: this.port };
    const port = this.claimPorts[this.nextClaimPort++ % this.claimPorts.length] as number;
    return { host: this.host, port };
  }

  /** The ports beside `port` (see NodeInfo.ports). */
  get ports(): number[] {
    return this.extraPorts();
  }

  protected override extraPorts(): number[] {
    return [...this.claimPorts];
  }

  /** The main port or one of the claim listeners. */
  listensOn(port: number): boolean {
    return port === this.port || this.claimPorts.includes(port);
  }

  private listen(server: Server, port: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      // A backlog above Node's default 511: a node going offline sends hundreds of clients to
      // its target at once, and SYNs dropped by a full backlog cost each of them a 1 s retry.
      server.listen({ port, host: this.host, backlog: LISTEN_BACKLOG }, () => {
        server.off('error', reject);
        const addr = server.address();
        if (addr === null || typeof addr === 'string') reject(new Error('tcp node: no port'));
        else resolve(addr.port);
      });
    });
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
    return adoptFromRegistry(this, this.store, sid);
  }

  bind(conn: TcpConnection, session: Session): void {
    const prev = session.link;
    // A new connection for a bound session takes it over; the old one is told why and closed.
    if (prev !== null && prev !== conn) session.fin('kicked');
    this.emit('session-connect', { nodeId: this.id, uid: session.uid, sid: session.sid });
    // Before session.bind(): a notice sent now is held and goes right after the connect's answer.
    this.binding = session;
    this.sessionConnected(session.sid);
    this.binding = null;
  }

  connectionClosed(conn: TcpConnection): void {
    this.connections.delete(conn);
    this.stats.connections = this.connections.size;
    const s = conn.session;
    // PROTOCOL 10.2: the old link of a push-handed session read to its end; nothing more to forward.
    if (s !== null && s.handedOffByPush) s.endForward();
    if (s !== null && s.link === conn) this.endSession(s);
  }

  /** A push routed to a session of this node (held until it connects). */
  deliverPush(sid: string, ver: number, cmd: number, payload: Buffer): void {
    const s = this.sessions.get(sid);
    if (s === undefined || !s.push(ver, cmd, payload)) this.drop('unexpected', sid);
  }

  protected sendOfflineNotice(sid: string): boolean {
    const s = this.sessions.get(sid);
    if (s === undefined || (s.link === null && s !== this.binding)) return false;
    return s.push(VER_BUILTIN, BuiltinCmd.KeepAlive, OFFLINE_NOTICE);
  }

  protected *connectedSids(): Iterable<string> {
    for (const s of this.sessions.values()) if (s.link !== null) yield s.sid;
  }

  /** PROTOCOL 7.3-7.5: the session lives on at the target; here it only leaves the map, then half-closes. */
  migrate(session: Session, link: SessionLink): Promise<void> {
    return this.handOff(session, link, this.handOffSteps(session, link)).then(() => undefined);
  }

  protected handOffSteps(session: Session, link: SessionLink): HandOffSteps {
    return {
      leave: () => this.forget(session),
      closeLink: () => {
        link.end();
        if (link instanceof TcpConnection) void link.done.then(() => emitPhase(this.emit, this.id, session.sid, 'old-link-closed'));
      },
      cut: () => {
        if (session.link === link) session.fin('server-shutdown');
      },
    };
  }

  localSession(sid: string): Session | undefined {
    return this.sessions.get(sid);
  }

  /** PROTOCOL 10.2: the connection serves on until the client's end (it half-closes on the push). */
  protected departByPush(session: Session): void {
    this.forget(session);
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
    this.stopPacing();
    for (const s of [...this.sessions.values()]) {
      if (s.link !== null) s.fin('server-shutdown');
      else this.endSession(s);
    }
  }

  /** Closes the listener and every connection (Fin 'server-shutdown' first); resolves when all closed. */
  stop(graceMs = 2000): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      this.stopShutdownTimer();
      const closed = Promise.all(
        [this.server, ...this.claimServers].map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))),
      );
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

  protected shutdownTimedOut(): void {
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
    this.sessionGone(s.sid);
    void this.store.removeSession(s.sid);
    this.emit('session-close', { nodeId: this.id, uid: s.uid, sid: s.sid });
  }
}
