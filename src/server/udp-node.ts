/**
 * A realtime node over reliable UDP (node:dgram): one socket, sessions keyed by SID from the entry
 * server's registration, the RUDP server side from src/protocol/rudp, and the same dispatch code as
 * the TCP node (dispatch.ts). Only the echo (ver 0 cmd 1, its UDP body layout) is answered here.
 * Migration (PROTOCOL 7): the migrate request hands the session off through Handoffs and closes
 * carefully; at the target the session binds only through the claim. The shutdown timeout of an
 * OFFLINE node goes through the injectable Clock like the TCP node's.
 */
import { createSocket, RemoteInfo, Socket } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BuiltinCmd, PENDING_SESSION_TTL_MS, Status, TICKET_SIZE, VER_BUILTIN } from '../protocol';
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
import { dispatchRequest, NodeControl } from './dispatch';
import { adoptPending } from './handoff';
import { HandOffSteps, NodeBase, NodeBaseOptions } from './node-base';
import { OrderedQueue } from './ordered-queue';
import { Session, SessionLink } from './session';
import type { SessionRecord } from './store';
import { routeDatagram } from './udp-route';
import { emitPhase } from './migration-phases';
import type { Clock } from './clock';
import { NodeTimers, NOT_ARMED } from './node-timers';

export interface UdpNodeOptions extends RetryOptions, NodeBaseOptions {
  /**
   * The reliable sender: 'adaptive' (default; RTO from the RTT, fast retransmit from the selective
   * ACKs, a tail-loss probe, a congestion window) or 'wire' (each DAT on the fixed 1/2/4/8 s
   * schedule, as the stock server). `adaptive: false` means 'wire' too.
   */
  retry?: 'adaptive' | 'wire';
  /** Drop a client silent for this long (wire default 10 s). */
  connectionTtlMs?: number;
  /** Socket receive/send buffers asked for (default 4 MiB; the OS may give less). */
  socketBufferBytes?: number;
  /** Port to bind (default 0: ephemeral). */
  port?: number;
  /** Initial sequence S of every handshake (default: random, as the wire says); tests pick one near the 24-bit wrap. */
  initialSeq?: number;
  /**
   * Sockets (ports) this node reads, 1..64 (default 1; the embedded cluster uses 4). The first is
   * bound to `port`, the others to ephemeral ports; new sessions and migrating clients are sent
   * to them in turn. Node 20's dgram reads at most 32 datagrams per socket per event-loop turn,
   * so a storm of migrating clients on one socket waits many turns.
   */
  sockets?: number;
  /**
   * ACK datagrams are paced, one per this many ms at most (default 4), unless 16 records are waiting:
   * a burst's records share datagrams, and the first after a quiet time goes at its turn's flush (the
   * client's probe allows for 5 ms of ACK delay).
   */
  ackDelayMs?: number;
  /**
   * Time of the RUDP deadlines (ms, monotonic; default performance.now() and one unref'd
   * setTimeout per node). Not the cluster's `clock` (wall time, which tests pin for handoffs
   * and shutdowns while RUDP runs on): tests of the node's timers pass a ManualClock here.
   */
  rudpClock?: Clock;
}

const NODE_ACK_DELAY_MS = 4;
const NODE_ACK_EVERY = 16;

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
  /** Its place in the node's timers (node-timers.ts): the earliest of its deadlines. */
  timerAt: number;
  timerSlot: number;
  /** An adopted session not bound by then ends (PENDING_SESSION_TTL_MS; +Infinity once bound). */
  pendingUntil: number;
  addr: string | null;
  /** Index of the node's socket the client talks to (replies leave from it). */
  sock: number;
  /** Migrate requests received and not yet answered: the shutdown timeout spares this session. */
  migrations: number;
  /** Bound through a claim: a later 16-byte ver 0 cmd 2 is a repeated claim, not a migrate request. */
  claimed: boolean;
  /** The claim was accepted: its answer goes out first when the RUDP side binds. */
  claimAnswerDue: boolean;
  /** Bound by a claim: the next answer is the migration's 'first-answer' phase. */
  firstAnswerDue: boolean;
}

/** A session timer this late found the process busy (the client's Loop::kLateMs). */
const LATE_TIMER_MS = 20;

/** RUDP time by default: monotonic, and the node's one timer must not keep a process alive. */
const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

/** Process-wide: session timers fired, how late (the loop was busy), datagrams in and out (bench/udp --trace). */
export const nodeTimerCounters = { fired: 0, lateSumMs: 0, lateMaxMs: 0, late20: 0, datagramsIn: 0, datagramsOut: 0, synLookups: 0, synLookupsAdoptedMeanwhile: 0 };

export class UdpNode extends NodeBase implements NodeControl {
  readonly type = 'UDP' as const;
  private readonly unflushed = new Set<Entry>();
  private flushing: NodeJS.Immediate | null = null;
  private readonly lateTicks = new Set<Entry>();
  private lateRun: NodeJS.Immediate | null = null;
  private readonly rudpClock: Clock;
  /** Every session's deadlines under one clock timer. */
  private readonly timers: NodeTimers<Entry>;
  readonly udp: UdpNodeCounters = { datagramsIn: 0, datagramsOut: 0, retransmits: 0, recvBufferBytes: 0, sendBufferBytes: 0 };
  private readonly sessions = new Map<string, Entry>();
  private readonly byAddr = new Map<string, Entry>();
  /** Handed off: still acknowledging and closing carefully here, no longer a user of this node. */
  private readonly departing = new Map<string, Entry>();
  private readonly sockets: Socket[] = [];
  /** The sockets' ports, in order, once bound (the first is `port`). */
  private readonly boundPorts: number[] = [];
  private closedWaiters: (() => void)[] = [];
  /** dgram throws on a send after close(); late timers must not reach it. */
  private socketClosed = false;

  constructor(private readonly opts: UdpNodeOptions) {
    super(opts);
    this.rudpClock = opts.rudpClock ?? monotonicClock;
    this.timers = new NodeTimers<Entry>(this.rudpClock, (e, now, at) => this.onTimer(e, now, at));
    const count = opts.sockets ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 64) throw new RangeError(`sockets: an integer 1..64, not ${String(count)}`);
    for (let i = 0; i < count; i++) {
      const socket = createSocket({ type: opts.host.includes(':') ? 'udp6' : 'udp4', lookup: literalLookup });
      socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo, i));
      // A send to a vanished client can surface as an error; the session's timers deal with it.
      socket.on('error', () => undefined);
      this.sockets.push(socket);
    }
  }

  /** RUDP time (rudpClock). */
  private now(): number {
    return this.rudpClock.now();
  }

  /** Sessions in the node's timers (tests). */
  get timedSessions(): number {
    return this.timers.size;
  }

  get users(): number {
    return this.sessions.size;
  }

  async start(): Promise<void> {
    for (const [i, socket] of this.sockets.entries()) {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(i === 0 ? (this.opts.port ?? 0) : 0, this.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      this.enlargeBuffers(socket, i === 0, this.opts.socketBufferBytes ?? 4 << 20);
      this.boundPorts.push(socket.address().port);
    }
    this.port = this.boundPorts[0] as number;
    await this.register();
  }

  /** The ports beside `port` (see NodeInfo.ports). */
  get ports(): number[] {
    return this.extraPorts();
  }

  protected override extraPorts(): number[] {
    return this.boundPorts.slice(1);
  }

  /** One of this node's ports. */
  listensOn(port: number): boolean {
    return this.boundPorts.includes(port);
  }

  adoptSession(rec: SessionRecord): Session {
    const old = this.sessions.get(rec.sid);
    if (old !== undefined) return old.session;
    const session = new Session(rec);
    const e = this.newEntry(session);
    this.sessions.set(rec.sid, e);
    this.stats.sessions = this.sessions.size;
    // Not bound by then: ended (a session adopted as a pending handoff waits for its claim instead).
    e.pendingUntil = this.now() + PENDING_SESSION_TTL_MS;
    this.schedule(e);
    return session;
  }

  deliverPush(sid: string, ver: number, cmd: number, payload: Buffer): void {
    const e = this.sessions.get(sid);
    if (e === undefined || !e.session.push(ver, cmd, payload)) this.drop('unexpected', sid);
  }

  /** PROTOCOL 7.1: the offline notice, as a DAT, in the echo body layout. */
  protected sendOfflineNotice(sid: string): boolean {
    const e = this.sessions.get(sid);
    if (e === undefined || e.session.link === null) return false;
    e.session.push(VER_BUILTIN, BuiltinCmd.KeepAlive, encodeEchoAnswer('offline', 0, e.rudp.publicAddress));
    return true;
  }

  protected *connectedSids(): Iterable<string> {
    for (const e of this.sessions.values()) if (e.session.link !== null) yield e.session.sid;
  }

  /**
   * PROTOCOL 7.3-7.5: the session lives on at the target (registry, data, pushes); here it only
   * closes carefully (FIN once every DAT sent is acknowledged).
   */
  migrate(session: Session, link: SessionLink): Promise<void> {
    const steps = this.handOffSteps(session, link);
    if (steps === null) return Promise.resolve();
    return this.handOff(session, link, steps).then(() => undefined);
  }

  localSession(sid: string): Session | undefined {
    return this.sessions.get(sid)?.session;
  }

  /** PROTOCOL 10.2: the old link serves on until the client's FIN ends it. */
  protected departByPush(session: Session): void {
    const e = this.sessions.get(session.sid);
    if (e !== undefined && e.session === session) this.depart(e);
  }

  protected handOffSteps(session: Session, link: SessionLink): HandOffSteps | null {
    const e = this.sessions.get(session.sid);
    if (e === undefined || e.session !== session) return null;
    return {
      leave: () => this.depart(e),
      closeLink: () => {
        // Nothing after the migrate request is served here (the client holds it for the target).
        e.queue.close();
        this.closeGracefully(e, 'migrated');
      },
      cut: () => {
        if (session.link !== null) this.closeGracefully(e, 'server-shutdown');
      },
    };
  }

  /** The handoff TTL ran out unclaimed: the pending session goes (returned for the report). */
  expireHandoff(sid: string): Session | null {
    const e = this.sessions.get(sid);
    if (e === undefined || !e.session.awaitingClaim || e.session.link !== null) return null;
    this.endSession(e, 'ended');
    return e.session;
  }

  terminate(): void {
    void this.setState('offline');
    this.stopPacing();
    this.shutdownAll();
  }

  /** Fin 'server-shutdown' to every client, waits (bounded) for them to go, then closes. */
  stop(graceMs = 2000): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = (async () => {
      this.stopShutdownTimer();
      this.unsubscribe?.();
      this.shutdownAll();
      if (this.sessions.size + this.departing.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          this.closedWaiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      for (const e of [...this.sessions.values(), ...this.departing.values()]) e.rudp.destroy('server-shutdown');
      this.timers.clear();
      this.socketClosed = true;
      await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      await this.store.unregisterNode(this.id);
    })();
    return this.stopping;
  }

  /** Fin 'server-shutdown' to every connected client (careful close); pending sessions just end. */
  private shutdownAll(): void {
    const now = this.now();
    for (const e of [...this.sessions.values()]) {
      if (e.session.link !== null) this.closeGracefully(e, 'server-shutdown', now);
      else this.endSession(e, 'ended');
    }
  }

  // ---------------------------------------------------------------- datagrams in

  private onMessage(msg: Buffer, rinfo: RemoteInfo, sock: number): void {
    this.stats.bytesIn += msg.length;
    this.udp.datagramsIn++;
    nodeTimerCounters.datagramsIn++;
    const from: PeerAddr = { address: rinfo.address, port: rinfo.port };
    const r = routeDatagram(msg);
    if (r.kind === 'drop') return this.drop(r.reason, null);
    if (r.kind === 'terminate') {
      const e = this.byAddr.get(addrKey(from));
      if (e === undefined) return this.drop('foreign-address', null);
      e.rudp.onTerminate(from);
      return;
    }
    const e = this.entryFor(r.sid, from, r.kind === 'datagram' && r.d.flag === Flag.SYN);
    if (e === undefined) {
      // Unknown SID: counted, nothing allocated. (A SID registered by another process is adopted.)
      if (r.kind === 'datagram' && r.d.flag === Flag.SYN) return this.adoptFromStore(r.sid, msg, rinfo, sock);
      // A claim for a session this node does not hold: refused, but not answered (no handshake,
      // so no sequence to answer on, and no reply to an unauthenticated source).
      if (r.kind === 'datagram' && isClaimDatagram(r.d.flag, r.d.body)) this.refused('claim:unknown-sid');
      return this.drop('unexpected', r.sid);
    }
    // Replies leave from the socket the client talks to (not from another address's datagrams).
    if (e.sock !== sock && (e.addr === null || e.addr === addrKey(from))) e.sock = sock;
    const now = this.now();
    if (r.kind === 'acks') e.rudp.onAcks(r.records, from, now);
    else e.rudp.onDatagram(r.d, from, now);
    this.schedule(e);
  }

  /**
   * The entry a datagram for `sid` from `from` is for. A session that comes back here while its
   * earlier departure still closes carefully has two: the departing one gets its own link's
   * datagrams (the old link's ACKs and FIN), the live one the rest. A SYN from another address
   * while only the departing one exists is a new link (a claim): it takes the unknown-SID path
   * (store lookup), not the closing link, which would drop it as foreign. Anything else from
   * another address still reaches the departing link and is dropped there as foreign.
   */
  private entryFor(sid: string, from: PeerAddr, syn: boolean): Entry | undefined {
    const live = this.sessions.get(sid);
    const gone = this.departing.get(sid);
    if (gone === undefined) return live;
    const key = addrKey(from);
    if (live !== undefined) return live.addr !== key && gone.addr === key ? gone : live;
    return syn && gone.addr !== key ? undefined : gone;
  }

  private adoptFromStore(sid: string, msg: Buffer, rinfo: RemoteInfo, sock: number): void {
    nodeTimerCounters.synLookups++;
    void this.store.lookupSession(sid).then((found) => {
      const rec = found?.rec ?? null;
      // Adopted meanwhile (the handoff's stream entry overtook this lookup): the SYN is served now,
      // not left for the client's repeat 500 ms later (1-2 % of UDP moves on Redis, issue 12).
      if (this.sessions.has(sid)) {
        nodeTimerCounters.synLookupsAdoptedMeanwhile++;
        if (this.stopping === null) this.onMessage(msg, rinfo, sock);
        return;
      }
      if (this.stopping !== null || rec === null || rec.nodeId !== this.id) return this.drop('unexpected', sid);
      // A handoff not yet read from this node's stream: only the claim may bind it (issue 11).
      if (found?.handoffPending === true) adoptPending(this, rec);
      else this.adoptSession(rec);
      this.onMessage(msg, rinfo, sock);
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
        adaptive: this.opts.retry !== undefined ? this.opts.retry === 'adaptive' : this.opts.adaptive !== false,
        rtoMinMs: this.opts.rtoMinMs,
        random24: this.opts.initialSeq === undefined ? undefined : () => this.opts.initialSeq ?? 0,
        requireClaim: () => session.awaitingClaim,
        ackDelayMs: this.opts.ackDelayMs ?? NODE_ACK_DELAY_MS,
        ackEvery: NODE_ACK_EVERY,
      },
      {
        send: (d, to) => {
          if (this.socketClosed) return;
          this.udp.datagramsOut++;
          nodeTimerCounters.datagramsOut++;
          this.stats.bytesOut += d.length;
          (this.sockets[e.sock] as Socket).send(d, to.port, to.address);
        },
        request: (ver, cmd, body, reliable) => {
          this.stats.requests++;
          // `body` is ours (the session never hands over a view into the datagram): no copy.
          const b = body;
          if (ver !== VER_BUILTIN || cmd !== BuiltinCmd.Reconn || !reliable) {
            e.queue.push(() => this.handle(e, ver, cmd, b, reliable));
            return;
          }
          // Counted from arrival, not from handling: it may wait behind slow handlers.
          e.migrations++;
          e.queue.push(() => {
            let res: void | Promise<void>;
            try {
              res = this.handle(e, ver, cmd, b, reliable);
            } catch (err) {
              e.migrations--;
              throw err;
            }
            if (res instanceof Promise) return res.finally(() => void e.migrations--);
            e.migrations--;
          });
        },
        drop: (reason) => this.drop(reason, session.sid),
        bound: (to) => {
          e.pendingUntil = Number.POSITIVE_INFINITY;
          e.addr = addrKey(to);
          // A departed session's old link still closing carefully towards this address: its client
          // left it (the port was freed and reused by this one), and its FIN retries would end this
          // session (a FIN names no session). It ends here without a word.
          const stale = this.byAddr.get(e.addr);
          if (stale !== undefined && stale !== e && this.departing.get(stale.session.sid) === stale) stale.rudp.abandon('migrated');
          this.byAddr.set(e.addr, e);
          this.stats.connections = this.byAddr.size;
          this.emit('session-connect', { nodeId: this.id, uid: session.uid, sid: session.sid });
          if (e.claimAnswerDue) {
            // The claim's answer first, then the pushes held for the pending session, in order.
            e.claimAnswerDue = false;
            this.sendReliable(e, session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Ok, EMPTY));
            e.firstAnswerDue = true;
          }
          session.bind(e.reliable);
          this.sessionConnected(session.sid);
          // PROTOCOL 10.2: what the old node forwarded goes before anything sent on this link.
          e.queue.push(() => this.runForwarded(session, e.reliable));
        },
        closed: (reason) => this.endSession(e, reason),
        claim: (ticket, from) => this.checkClaim(e, ticket, from),
        refused: (detail) => this.refused(detail),
      },
    );
    e = {
      session,
      queue: new OrderedQueue((error) => {
        this.stats.handlerErrors++;
        this.emit('handler-error', { nodeId: this.id, uid: session.uid, ver: -1, cmd: -1, error });
      }),
      timerAt: 0,
      timerSlot: NOT_ARMED,
      pendingUntil: Number.POSITIVE_INFINITY,
      addr: null,
      sock: 0,
      migrations: 0,
      claimed: false,
      claimAnswerDue: false,
      firstAnswerDue: false,
      reliable: {
        sendPacket: (p) => this.sendReliable(e, p),
        // Session.fin() already sent the Fin push: close without another one.
        end: () => {
          e.rudp.close('ended', this.now());
          this.schedule(e);
        },
      },
      unreliable: {
        sendPacket: (p) => {
          this.countOut(p, e);
          // Too large for one datagram: the answer goes reliably rather than not at all.
          if (!e.rudp.sendUnreliableEncoded(p)) this.sendReliable(e, p);
        },
        end: () => e.reliable.end(),
      },
      rudp,
    };
    return e;
  }

  /** PROTOCOL 7.6: the ticket of a claim that authenticated at a pre-bind handshake. */
  private checkClaim(e: Entry, ticket: Buffer, from: PeerAddr): void {
    emitPhase(this.emit, this.id, e.session.sid, 'target-accepted');
    const verdict = this.handoffs === null ? Promise.resolve(null) : this.handoffs.claim(e.session.sid, ticket);
    void verdict.then((r) => {
      if (this.sessions.get(e.session.sid) !== e || e.rudp.state === 'closed') return;
      if (r === null || !r.ok) return e.rudp.refuseClaim(from, `claim:${r === null ? 'unknown' : r.reason}`);
      // A repeat from another address while the first binding stands: one binding only.
      if (e.rudp.peer !== null) return e.rudp.refuseClaim(from, 'claim:bound-elsewhere');
      emitPhase(this.emit, this.id, e.session.sid, 'claim-checked');
      e.session.awaitingClaim = false;
      e.claimed = true;
      e.claimAnswerDue = true;
      if (!e.rudp.acceptClaim(from, this.now())) {
        // The handshake went meanwhile (expired or pushed out): the client starts over.
        e.session.awaitingClaim = true;
        e.claimed = false;
        e.claimAnswerDue = false;
        return this.refused('claim:handshake-gone');
      }
      this.schedule(e);
    });
  }

  /** A repeated claim on the binding it made (its answer was lost): answered again, nothing rebinds. */
  private async repeatClaim(e: Entry, ticket: Buffer): Promise<void> {
    const r = this.handoffs === null ? null : await this.handoffs.claim(e.session.sid, ticket);
    if (r !== null && r.ok) return e.reliable.sendPacket(e.session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Ok, EMPTY));
    this.refused(`claim:${r === null ? 'unknown' : r.reason}`);
    e.reliable.sendPacket(e.session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Bad, EMPTY));
  }

  private refused(detail: string): void {
    this.stats.refused++;
    this.emit('refused', { nodeId: this.id, reason: detail });
  }

  protected shutdownTimedOut(): void {
    for (const e of [...this.sessions.values()]) {
      if (e.session.link === null || e.session.migrating || e.migrations > 0) continue;
      this.closeGracefully(e, 'server-shutdown');
    }
  }

  private closeGracefully(e: Entry, reason: SessionEndReason, now = this.now()): void {
    e.rudp.close(reason, now);
    this.schedule(e);
  }

  /** Out of this node's users (the registry already points at the target); the RUDP side closes on. */
  private depart(e: Entry): void {
    const sid = e.session.sid;
    if (this.sessions.get(sid) !== e) return;
    this.sessions.delete(sid);
    this.departing.set(sid, e);
    this.stats.sessions = this.sessions.size;
    e.pendingUntil = Number.POSITIVE_INFINITY;
  }

  private handle(e: Entry, ver: number, cmd: number, body: Buffer, reliable: boolean): void | Promise<void> {
    if (ver === VER_BUILTIN && cmd === BuiltinCmd.Reconn && e.claimed && body.length === TICKET_SIZE) return this.repeatClaim(e, body);
    if (ver === VER_BUILTIN && cmd === BuiltinCmd.KeepAlive) {
      const req = decodeEchoRequest(body);
      if (req === null) {
        this.drop('bad-body', e.session.sid);
        return e.reliable.sendPacket(e.session.encode(ver, cmd, Status.Bad, EMPTY));
      }
      const answer = encodeEchoAnswer(this.state, req.ts, e.rudp.publicAddress);
      return e.reliable.sendPacket(e.session.encode(ver, cmd, Status.Ok, answer));
    }
    return dispatchRequest(this, e.session, reliable ? e.reliable : e.unreliable, ver, cmd, body);
  }

  private sendReliable(e: Entry, packet: Buffer): void {
    this.countOut(packet, e);
    e.rudp.sendEncoded(packet, this.now());
    this.schedule(e);
  }

  private countOut(packet: Buffer, e?: Entry): void {
    if (packet[10] === Status.Push) this.stats.pushes++;
    else {
      this.stats.responses++;
      if (e?.firstAnswerDue === true) {
        e.firstAnswerDue = false;
        emitPhase(this.emit, this.id, e.session.sid, 'first-answer');
      }
    }
  }

  /**
   * Output of one event-loop turn leaves together: the node packs a session's reliable packets and
   * ACK records into as few datagrams as fit, flushed after the datagrams read in this turn.
   */
  private flushSoon(e: Entry): void {
    if (!e.rudp.hasUnflushed) return;
    this.unflushed.add(e);
    if (this.flushing !== null) return;
    this.flushing = setImmediate(() => {
      this.flushing = null;
      const now = this.now();
      const due = [...this.unflushed];
      this.unflushed.clear();
      for (const x of due) {
        x.rudp.flush(now);
        this.schedule(x);
      }
    });
  }

  /** Moves the session in the node's timers to its earliest deadline (and flushes it at the end of the turn). */
  private schedule(e: Entry): void {
    this.flushSoon(e);
    const d = e.rudp.nextDeadline();
    const due = d === null || e.pendingUntil < d ? e.pendingUntil : d;
    if (due === Number.POSITIVE_INFINITY) this.timers.cancel(e);
    else if (e.timerSlot === NOT_ARMED || e.timerAt !== due) this.timers.arm(e, due);
  }

  /** A session's deadline passed (one pass of the node's timers runs every session due). */
  private onTimer(e: Entry, now: number, at: number): void {
    const late = now - at;
    nodeTimerCounters.fired++;
    nodeTimerCounters.lateSumMs += late;
    nodeTimerCounters.lateMaxMs = Math.max(nodeTimerCounters.lateMaxMs, late);
    if (late > LATE_TIMER_MS) {
      nodeTimerCounters.late20++;
      return this.tickAfterRead(e);
    }
    this.tick(e, now);
  }

  private tick(e: Entry, now: number): void {
    if (e.pendingUntil <= now) {
      e.pendingUntil = Number.POSITIVE_INFINITY;
      const s = e.session;
      if (s.link === null && !s.awaitingClaim && !e.claimed) return this.endSession(e, 'ended');
    }
    e.rudp.tick(now);
    this.schedule(e);
  }

  /**
   * Node runs timers before its poll phase reads the sockets: a timer that fired late (the process
   * was busy) would judge the peer (RTO, connection TTL) without the answers waiting in the socket.
   * It ticks in a setImmediate instead, which runs after that read (as the client's loop driver
   * reads before a late timer: Loop::kLateMs). One immediate for every late session of the turn.
   */
  private tickAfterRead(e: Entry): void {
    this.lateTicks.add(e);
    this.lateRun ??= setImmediate(() => {
      this.lateRun = null;
      const due = [...this.lateTicks];
      this.lateTicks.clear();
      for (const x of due) {
        if (x.rudp.state === 'closed') continue;
        this.tick(x, this.now());
      }
    });
  }

  private endSession(e: Entry, reason: SessionEndReason): void {
    const s = e.session;
    if (this.departing.get(s.sid) === e) return this.departed(e);
    if (this.sessions.get(s.sid) !== e) return;
    this.sessions.delete(s.sid);
    // Out of the map first: destroy() reports 'closed' back here, which must find nothing to do.
    if (e.rudp.state !== 'closed') e.rudp.destroy(reason);
    if (e.addr !== null && this.byAddr.get(e.addr) === e) this.byAddr.delete(e.addr);
    this.stats.sessions = this.sessions.size;
    this.stats.connections = this.byAddr.size;
    this.udp.retransmits += e.rudp.senderStats()?.retransmits ?? 0;
    e.pendingUntil = Number.POSITIVE_INFINITY;
    this.timers.cancel(e);
    if (s.pendingTimer !== null) clearTimeout(s.pendingTimer);
    e.queue.close();
    s.link = null;
    this.sessionGone(s.sid);
    void this.store.removeSession(s.sid);
    this.emit('session-close', { nodeId: this.id, uid: s.uid, sid: s.sid, reason });
    this.wakeClosedWaiters();
  }

  /** A handed-off session's old link is closed: local cleanup only, the session lives at the target. */
  private departed(e: Entry): void {
    this.departing.delete(e.session.sid);
    emitPhase(this.emit, this.id, e.session.sid, 'old-link-closed');
    if (e.rudp.state !== 'closed') e.rudp.destroy('migrated');
    if (e.addr !== null && this.byAddr.get(e.addr) === e) this.byAddr.delete(e.addr);
    this.stats.connections = this.byAddr.size;
    this.udp.retransmits += e.rudp.senderStats()?.retransmits ?? 0;
    e.pendingUntil = Number.POSITIVE_INFINITY;
    this.timers.cancel(e);
    e.session.link = null;
    // PROTOCOL 10.2: a push-handed session's queued requests go to its new node, then the end.
    if (e.session.handedOffByPush) {
      void e.queue.idle().then(() => {
        e.queue.close();
        e.session.endForward();
      });
    } else e.queue.close();
    this.wakeClosedWaiters();
  }

  private wakeClosedWaiters(): void {
    if (this.sessions.size + this.departing.size === 0) for (const w of this.closedWaiters.splice(0)) w();
  }

  private enlargeBuffers(socket: Socket, first: boolean, bytes: number): void {
    // Loss under bursts starts in the kernel's default 208 KiB buffers; the OS may cap the request.
    try {
      socket.setRecvBufferSize(bytes);
    } catch {
      /* tolerated: keep the default */
    }
    try {
      socket.setSendBufferSize(bytes);
    } catch {
      /* tolerated: keep the default */
    }
    if (!first) return;
    try {
      this.udp.recvBufferBytes = socket.getRecvBufferSize();
      this.udp.sendBufferBytes = socket.getSendBufferSize();
    } catch {
      this.udp.recvBufferBytes = 0;
      this.udp.sendBufferBytes = 0;
    }
  }
}

/**
 * The node sends only to addresses it read from datagrams (IP literals). dgram's default lookup is
 * dns.lookup, which answers a literal a tick later: a nextTick, a closure and a validation per
 * datagram. This one answers a literal at once (dgram's connected-socket path does the same).
 */
export function literalLookup(address: string, options: LookupOneOptions, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const f = isIP(address);
  if (f !== 0) return cb(null, address, f);
  dnsLookup(address, options, cb);
}

/** A DAT/RDAT whose body starts with a request header ver 0 cmd 2 (a claim, at a target). */
function isClaimDatagram(flag: number, body: Buffer): boolean {
  return (flag === Flag.DAT || flag === Flag.RDAT) && body.length >= 10 && body[4] === VER_BUILTIN && body.readUInt16BE(8) === BuiltinCmd.Reconn;
}
