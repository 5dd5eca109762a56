/**
 * A realtime node over reliable UDP (node:dgram): one socket, sessions keyed by SID from the entry
 * server's registration, the RUDP server side from src/protocol/rudp, and the same dispatch code as
 * the TCP node (dispatch.ts). Only the echo (ver 0 cmd 1, its UDP body layout) is answered here.
 */
import { createSocket, RemoteInfo, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import {
  BuiltinCmd,
  DropReason,
  emptyDropCounts,
  NodeState,
  PENDING_SESSION_TTL_MS,
  Status,
  VER_BUILTIN,
} from '../protocol';
import {
  decodeEchoRequest,
  encodeEchoAnswer,
  Flag,
  PeerAddr,
  addrKey,
  RetryOptions,
  ServerSession,
  SessionEndReason,
} from '../protocol/rudp';
import { CommandRouter } from './commands';
import { dispatchRequest, NodeControl } from './dispatch';
import type { RealtimeNode } from './node';
import { OrderedQueue } from './ordered-queue';
import { Session, SessionLink } from './session';
import type { ClusterStore, SessionRecord } from './store';
import type { EmitFn, NodeStats } from './types';
import { routeDatagram } from './udp-route';

export interface UdpNodeOptions extends RetryOptions {
  id: string;
  host: string;
  store: ClusterStore;
  router: CommandRouter;
  emit: EmitFn;
  maxPayload: number;
  exposeDebugCommands: boolean;
  /** Drop a client silent for this long (wire default 10 s). */
  connectionTtlMs?: number;
  /** Socket receive/send buffers asked for (default 4 MiB; the OS may give less). */
  socketBufferBytes?: number;
}

/** UDP-only counters beside the shared NodeStats. */
export interface UdpNodeCounters {
  datagramsIn: number;
  datagramsOut: number;
  retransmits: number;
  /** Socket buffer sizes actually obtained (0 when the OS refused). */
  recvBufferBytes: number;
  sendBufferBytes: number;
}

const EMPTY = Buffer.alloc(0);

/** One registered session on this node and its RUDP side. */
interface Entry {
  session: Session;
  rudp: ServerSession;
  queue: OrderedQueue;
  reliable: SessionLink;
  unreliable: SessionLink;
  timer: NodeJS.Timeout | null;
  timerAt: number;
  addr: string | null;
}

export class UdpNode implements RealtimeNode, NodeControl {
  readonly type = 'UDP' as const;
  readonly id: string;
  readonly host: string;
  readonly router: CommandRouter;
  readonly emit: EmitFn;
  readonly exposeDebugCommands: boolean;
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
  readonly udp: UdpNodeCounters = { datagramsIn: 0, datagramsOut: 0, retransmits: 0, recvBufferBytes: 0, sendBufferBytes: 0 };
  port = 0;
  private nodeState: NodeState = 'online';
  private readonly sessions = new Map<string, Entry>();
  private readonly byAddr = new Map<string, Entry>();
  private readonly socket: Socket;
  private unsubscribe: (() => void) | null = null;
  private stopping: Promise<void> | null = null;
  private closedWaiters: (() => void)[] = [];
  /** dgram throws on a send after close(); late timers must not reach it. */
  private socketClosed = false;

  constructor(private readonly opts: UdpNodeOptions) {
    this.id = opts.id;
    this.host = opts.host;
    this.router = opts.router;
    this.emit = opts.emit;
    this.exposeDebugCommands = opts.exposeDebugCommands;
    this.socket = createSocket({ type: opts.host.includes(':') ? 'udp6' : 'udp4' });
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // A send to a vanished client can surface as an error; the session's timers deal with it.
    this.socket.on('error', () => undefined);
  }

  get state(): NodeState {
    return this.nodeState;
  }

  get users(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(0, this.host, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.port = this.socket.address().port;
    this.enlargeBuffers(this.opts.socketBufferBytes ?? 4 << 20);
    await this.opts.store.registerNode({ id: this.id, type: this.type, host: this.host, port: this.port, state: this.nodeState });
    this.unsubscribe = await this.opts.store.subscribePushes(this.id, (sid, ver, cmd, payload) =>
      this.deliverPush(sid, ver, cmd, payload),
    );
  }

  adoptSession(rec: SessionRecord): Session {
    const old = this.sessions.get(rec.sid);
    if (old !== undefined) return old.session;
    const session = new Session(rec);
    const e = this.newEntry(session);
    this.sessions.set(rec.sid, e);
    this.stats.sessions = this.sessions.size;
    session.pendingTimer = setTimeout(() => {
      if (session.link === null) this.endSession(e, 'ended');
    }, PENDING_SESSION_TTL_MS);
    session.pendingTimer.unref();
    return session;
  }

  deliverPush(sid: string, ver: number, cmd: number, payload: Buffer): void {
    const e = this.sessions.get(sid);
    if (e === undefined || !e.session.push(ver, cmd, payload)) this.drop('unexpected', sid);
  }

  setState(state: NodeState): Promise<void> {
    if (state === this.nodeState) return Promise.resolve();
    this.nodeState = state;
    const written = this.opts.store.setNodeState(this.id, state);
    this.emit('node-state', { nodeId: this.id, state });
    if (state === 'offline') {
      // PROTOCOL 7.1: the offline notice, as a DAT, in the echo body layout.
      for (const e of this.sessions.values()) {
        if (e.session.link === null) continue;
        e.session.push(VER_BUILTIN, BuiltinCmd.KeepAlive, encodeEchoAnswer('offline', 0, e.rudp.publicAddress));
      }
    }
    return written;
  }

  terminate(): void {
    void this.setState('offline');
    const now = performance.now();
    for (const e of [...this.sessions.values()]) {
      if (e.session.link !== null) {
        e.rudp.close('server-shutdown', now);
        this.schedule(e);
      } else this.endSession(e, 'ended');
    }
  }

  /** Fin 'server-shutdown' to every client, waits (bounded) for them to go, then closes. */
  stop(graceMs = 2000): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      this.unsubscribe?.();
      const now = performance.now();
      for (const e of [...this.sessions.values()]) {
        if (e.session.link !== null) {
          e.rudp.close('server-shutdown', now);
          this.schedule(e);
        } else this.endSession(e, 'ended');
      }
      if (this.sessions.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          this.closedWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      for (const e of [...this.sessions.values()]) e.rudp.destroy('server-shutdown');
      this.socketClosed = true;
      await new Promise<void>((resolve) => this.socket.close(() => resolve()));
      await this.opts.store.unregisterNode(this.id);
    })();
    return this.stopping;
  }

  // ---------------------------------------------------------------- datagrams in

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    this.stats.bytesIn += msg.length;
    this.udp.datagramsIn++;
    const from: PeerAddr = { address: rinfo.address, port: rinfo.port };
    const r = routeDatagram(msg);
    if (r.kind === 'drop') return this.drop(r.reason, null);
    if (r.kind === 'terminate') {
      const e = this.byAddr.get(addrKey(from));
      if (e === undefined) return this.drop('foreign-address', null);
      e.rudp.onTerminate(from);
      return;
    }
    const e = this.sessions.get(r.sid);
    if (e === undefined) {
      // Unknown SID: counted, nothing allocated. (A SID registered by another process is adopted.)
      if (r.kind === 'datagram' && r.d.flag === Flag.SYN) return this.adoptFromStore(r.sid, msg, rinfo);
      return this.drop('unexpected', r.sid);
    }
    const now = performance.now();
    if (r.kind === 'acks') e.rudp.onAcks(r.records, from, now);
    else e.rudp.onDatagram(r.d, from, now);
    this.schedule(e);
  }

  private adoptFromStore(sid: string, msg: Buffer, rinfo: RemoteInfo): void {
    void this.opts.store.getSession(sid).then((rec) => {
      if (this.stopping !== null || rec === null || rec.nodeId !== this.id || this.sessions.has(sid)) {
        if (!this.sessions.has(sid)) this.drop('unexpected', sid);
        return;
      }
      this.adoptSession(rec);
      this.onMessage(msg, rinfo);
    });
  }

  // ---------------------------------------------------------------- sessions

  private newEntry(session: Session): Entry {
    // The RUDP handler and the entry refer to each other; the handler runs only after both exist.
    let e!: Entry;
    const rudp = new ServerSession(
      {
        sid: session.sidBytes,
        crypto: session.crypto,
        maxPayload: this.opts.maxPayload,
        connectionTtlMs: this.opts.connectionTtlMs,
        retryMinMs: this.opts.retryMinMs,
        retryMaxMs: this.opts.retryMaxMs,
        maxRetries: this.opts.maxRetries,
        adaptive: this.opts.adaptive,
        rtoMinMs: this.opts.rtoMinMs,
      },
      {
        send: (d, to) => {
          if (this.socketClosed) return;
          this.udp.datagramsOut++;
          this.stats.bytesOut += d.length;
          this.socket.send(d, to.port, to.address);
        },
        request: (ver, cmd, body, reliable) => {
          this.stats.requests++;
          // Copy: the datagram buffer is not ours beyond this turn and handlers may be async.
          const b = Buffer.from(body);
          e.queue.push(() => this.handle(e, ver, cmd, b, reliable));
        },
        drop: (reason) => this.drop(reason, session.sid),
        bound: (to) => {
          e.addr = addrKey(to);
          this.byAddr.set(e.addr, e);
          this.stats.connections = this.byAddr.size;
          this.emit('session-connect', { nodeId: this.id, uid: session.uid, sid: session.sid });
          session.bind(e.reliable);
        },
        closed: (reason) => this.endSession(e, reason),
      },
    );
    e = {
      session,
      queue: new OrderedQueue((error) => {
        this.stats.handlerErrors++;
        this.emit('handler-error', { nodeId: this.id, uid: session.uid, ver: -1, cmd: -1, error });
      }),
      timer: null,
      timerAt: 0,
      addr: null,
      reliable: {
        sendPacket: (p) => this.sendReliable(e, p),
        // Session.fin() already sent the Fin push: close without another one.
        end: () => {
          e.rudp.close('ended', performance.now());
          this.schedule(e);
        },
      },
      unreliable: {
        sendPacket: (p) => {
          this.countOut(p);
          // Too large for one datagram: the answer goes reliably rather than not at all.
          if (!e.rudp.sendUnreliableEncoded(p)) this.sendReliable(e, p);
        },
        end: () => e.reliable.end(),
      },
      rudp,
    };
    return e;
  }

  private handle(e: Entry, ver: number, cmd: number, body: Buffer, reliable: boolean): void | Promise<void> {
    if (ver === VER_BUILTIN && cmd === BuiltinCmd.KeepAlive) {
      const req = decodeEchoRequest(body);
      if (req === null) {
        this.drop('bad-body', e.session.sid);
        return e.reliable.sendPacket(e.session.encode(ver, cmd, Status.Bad, EMPTY));
      }
      const answer = encodeEchoAnswer(this.nodeState, req.ts, e.rudp.publicAddress);
      return e.reliable.sendPacket(e.session.encode(ver, cmd, Status.Ok, answer));
    }
    return dispatchRequest(this, e.session, reliable ? e.reliable : e.unreliable, ver, cmd, body);
  }

  private sendReliable(e: Entry, packet: Buffer): void {
    this.countOut(packet);
    e.rudp.sendEncoded(packet, performance.now());
    this.schedule(e);
  }

  private countOut(packet: Buffer): void {
    if (packet[10] === Status.Push) this.stats.pushes++;
    else this.stats.responses++;
  }

  /** Arms the session's one timer for its earliest deadline. */
  private schedule(e: Entry): void {
    const due = e.rudp.nextDeadline();
    if (due === null) {
      if (e.timer !== null) clearTimeout(e.timer);
      e.timer = null;
      return;
    }
    if (e.timer !== null && e.timerAt <= due) return;
    if (e.timer !== null) clearTimeout(e.timer);
    e.timerAt = due;
    e.timer = setTimeout(() => {
      e.timer = null;
      e.rudp.tick(performance.now());
      this.schedule(e);
    }, Math.max(0, Math.ceil(due - performance.now())));
  }

  private endSession(e: Entry, reason: SessionEndReason): void {
    const s = e.session;
    if (this.sessions.get(s.sid) !== e) return;
    this.sessions.delete(s.sid);
    // Out of the map first: destroy() reports 'closed' back here, which must find nothing to do.
    if (e.rudp.state !== 'closed') e.rudp.destroy(reason);
    if (e.addr !== null && this.byAddr.get(e.addr) === e) this.byAddr.delete(e.addr);
    this.stats.sessions = this.sessions.size;
    this.stats.connections = this.byAddr.size;
    this.udp.retransmits += e.rudp.senderStats()?.retransmits ?? 0;
    if (e.timer !== null) clearTimeout(e.timer);
    if (s.pendingTimer !== null) clearTimeout(s.pendingTimer);
    e.queue.close();
    s.link = null;
    void this.opts.store.removeSession(s.sid);
    this.emit('session-close', { nodeId: this.id, uid: s.uid, sid: s.sid });
    if (this.sessions.size === 0) for (const w of this.closedWaiters.splice(0)) w();
  }

  private drop(reason: DropReason, sid: string | null): void {
    this.stats.drops[reason]++;
    this.emit('drop', { nodeId: this.id, reason, sid });
  }

  private enlargeBuffers(bytes: number): void {
    // Loss under bursts starts in the kernel's default 208 KiB buffers; the OS may cap the request.
    try {
      this.socket.setRecvBufferSize(bytes);
    } catch {
      /* tolerated: keep the default */
    }
    try {
      this.socket.setSendBufferSize(bytes);
    } catch {
      /* tolerated: keep the default */
    }
    try {
      this.udp.recvBufferBytes = this.socket.getRecvBufferSize();
      this.udp.sendBufferBytes = this.socket.getSendBufferSize();
    } catch {
      this.udp.recvBufferBytes = 0;
      this.udp.sendBufferBytes = 0;
    }
  }
}
