/**
 * What the TCP and UDP nodes share whatever their transport: identity and counters, registration
 * in the store, the node state with its offline notice and shutdown timeout (PROTOCOL 7.1, 7.7),
 * and the old node's side of a migration (7.3-7.5). The transports supply the notice, the cut at
 * the timeout, and what leaving a handed-off session means for their links.
 */
import {
  BuiltinCmd,
  DropReason,
  emptyDropCounts,
  MIGRATE_NO_TARGET_CODE,
  NodeState,
  Status,
  VER_BUILTIN,
} from '../protocol';
import { Clock, realClock } from './clock';
import { CommandRouter } from './commands';
import { dispatchRequest, type NodeControl } from './dispatch';
import { FORWARD_END_WAIT_MS } from './forward';
import { encodeMigrateAnswer, Handoffs } from './handoff';
import { emitPhase } from './migration-phases';
import { OfflinePacer, pacingSettings, type OfflinePacing } from './offline-pacer';
import type { RealtimeNode } from './node';
import type { Session, SessionLink } from './session';
import type { ClusterStore, SessionRecord } from './store';
import type { RoomService } from './rooms/rooms';
import type { EmitFn, NodeStats, NodeType } from './types';

export interface NodeBaseOptions {
  id: string;
  host: string;
  store: ClusterStore;
  router: CommandRouter;
  emit: EmitFn;
  maxPayload: number;
  exposeDebugCommands: boolean;
  /** How long an OFFLINE node serves before Fin 'server-shutdown' to the rest (default 10000). */
  shutdownTimeoutMs?: number;
  clock?: Clock;
  /** Migration; without it a migrate request is answered "no target". */
  handoffs?: Handoffs;
  /** Rooms (PROTOCOL 10, ver 1); without them ver 1 requests go to the command router. */
  rooms?: RoomService;
  /**
   * OFFLINE: notify a window of sessions at a time, the next as earlier ones' moves complete
   * (default on: window 16 at first, delay-based, everyone within 3000 ms, slot cap 1000 ms, and by
   * half the shutdown timeout). false or 0:
   * every session at once (PROTOCOL 7.1). A number sets the window. See offline-pacer.ts.
   */
  offlinePacing?: OfflinePacing;
}

/** What a transport does around the migrate answer (see NodeBase.handOff). */
export interface HandOffSteps {
  /** The session moved: it leaves this node's users before the answer goes out. */
  leave(): void;
  /** After the answer: the link closes (half-close, careful close). */
  closeLink(): void;
  /** No target after the shutdown timeout ran out: the client is cut after the answer. */
  cut(): void;
}

export abstract class NodeBase implements RealtimeNode, NodeControl {
  abstract readonly type: NodeType;
  readonly id: string;
  readonly host: string;
  readonly router: CommandRouter;
  readonly emit: EmitFn;
  readonly maxPayload: number;
  readonly exposeDebugCommands: boolean;
  readonly clock: Clock;
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
  protected readonly store: ClusterStore;
  protected readonly handoffs: Handoffs | null;
  readonly rooms: RoomService | undefined;
  protected unsubscribe: (() => void) | null = null;
  protected stopping: Promise<void> | null = null;
  /** The shutdown timeout ran out: a client still here after a failed migration is cut too. */
  protected shutdownExpired = false;
  private nodeState: NodeState = 'online';
  private readonly shutdownTimeoutMs: number;
  private cancelShutdown: (() => void) | null = null;
  /** Null when pacing is off (every notice at once). */
  private readonly pacer: OfflinePacer | null;

  constructor(opts: NodeBaseOptions) {
    this.id = opts.id;
    this.host = opts.host;
    this.store = opts.store;
    this.router = opts.router;
    this.emit = opts.emit;
    this.maxPayload = opts.maxPayload;
    this.exposeDebugCommands = opts.exposeDebugCommands;
    this.clock = opts.clock ?? realClock;
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 10_000;
    this.handoffs = opts.handoffs ?? null;
    this.rooms = opts.rooms;
    const pacing = pacingSettings(opts.offlinePacing);
    this.pacer = pacing === null ? null : new OfflinePacer(pacing, { clock: this.clock, notify: (sid) => this.noticeTo(sid) });
  }

  get state(): NodeState {
    return this.nodeState;
  }

  /** Sessions registered here, connected or not yet. */
  abstract get users(): number;
  abstract start(): Promise<void>;
  abstract adoptSession(rec: SessionRecord): Session;
  abstract deliverPush(sid: string, ver: number, cmd: number, payload: Buffer): void;
  /** A session held by this node (connected or pending), by SID. */
  abstract localSession(sid: string): Session | undefined;
  /**
   * PROTOCOL 10.2, after a server-started migration push: the session leaves this node's users,
   * but its link keeps serving what the client sent before it saw the push, until the client ends it.
   */
  protected abstract departByPush(session: Session): void;
  abstract stop(): Promise<void>;
  /** Debug 903: end every session of this node now. */
  abstract terminate(): void;
  /** PROTOCOL 7.1: the offline notice to one session; false when it is not connected here. */
  protected abstract sendOfflineNotice(sid: string): boolean;
  /** The sessions connected to this node now (the offline notice's recipients). */
  protected abstract connectedSids(): Iterable<string>;
  /** PROTOCOL 7.7: Fin 'server-shutdown' to the clients still here, sparing migrations under way. */
  protected abstract shutdownTimedOut(): void;

  /** Resolves when the registry knows the new state (the notice is pushed at once, before that). */
  setState(state: NodeState): Promise<void> {
    if (state === this.nodeState) return Promise.resolve();
    this.nodeState = state;
    const written = this.store.setNodeState(this.id, state);
    this.emit('node-state', { nodeId: this.id, state });
    this.stopShutdownTimer();
    this.shutdownExpired = false;
    if (state === 'offline') {
      emitPhase(this.emit, this.id, null, 'offline-notice');
      this.cancelShutdown = this.clock.setTimer(() => {
        this.cancelShutdown = null;
        this.shutdownExpired = true;
        this.shutdownTimedOut();
      }, this.shutdownTimeoutMs);
      this.announceOffline();
    }
    return written;
  }

  /**
   * PROTOCOL 7.1, paced (issue 12): a window of sessions is notified now, the next as earlier ones
   * leave; unpaced, every connected session at once.
   */
  private announceOffline(): void {
    if (this.pacer !== null) return this.pacer.start(this.connectedSids(), this.shutdownTimeoutMs / 2);
    for (const sid of [...this.connectedSids()]) this.noticeTo(sid);
  }

  private noticeTo(sid: string): boolean {
    if (!this.sendOfflineNotice(sid)) return false;
    emitPhase(this.emit, this.id, sid, 'notice-sent');
    return true;
  }

  /** A session connected here: while OFFLINE it is told too (in its turn when paced). */
  protected sessionConnected(sid: string): void {
    if (this.nodeState !== 'offline' || this.stopping !== null) return;
    if (this.pacer?.running === true) this.pacer.add(sid);
    else if (this.pacer === null) this.noticeTo(sid);
  }

  /** A session ended here (not handed off): its notice slot, or its place in the queue, goes. */
  protected sessionGone(sid: string): void {
    this.pacer?.done(sid);
  }

  /**
   * A session handed off from here was claimed at its target (Handoffs.claim in this process, the
   * store's 'claimed' message across processes): its move is done, its notice slot goes to the next.
   */
  handoffClaimed(sid: string): void {
    this.pacer?.done(sid);
  }

  /** Whether claims of sessions handed off from here must be told to this node (its pacing). */
  get pacesOnClaims(): boolean {
    return this.pacer !== null;
  }

  /** Registers the listening node in the store and subscribes to the pushes routed to it. */
  protected async register(): Promise<void> {
    const ports = this.extraPorts();
    await this.store.registerNode({ id: this.id, type: this.type, host: this.host, port: this.port, ...(ports.length > 0 ? { ports } : {}), state: this.nodeState });
    this.unsubscribe = await this.store.subscribePushes(this.id, (sid, ver, cmd, payload) =>
      this.deliverPush(sid, ver, cmd, payload),
    );
  }

  /** Ports beside `port` that clients may be sent to (registered with the node). */
  protected extraPorts(): number[] {
    return [];
  }

  /** Debug 903 ends every session at once: no notice is paced after that. */
  protected stopPacing(): void {
    this.pacer?.stop();
  }

  /** The shutdown timer and the offline pacing stop (ONLINE again, terminate, stop). */
  protected stopShutdownTimer(): void {
    this.cancelShutdown?.();
    this.cancelShutdown = null;
    this.pacer?.stop();
  }

  /**
   * PROTOCOL 7.3-7.5 at the old node, after every earlier request of the client: hand off, answer
   * address || ticket on the link the request came from (status 5 / 1003 without a target).
   */
  protected async handOff(
    session: Session,
    link: SessionLink,
    steps: HandOffSteps,
    answer: { ver: number; cmd: number; to?: string } = { ver: VER_BUILTIN, cmd: BuiltinCmd.Reconn },
  ): Promise<boolean> {
    if (session.handedOffByPush) {
      // The node moved this session already (PROTOCOL 10.2): a late request of the old link.
      this.drop('unexpected', session.sid);
      return false;
    }
    session.migrating = true;
    emitPhase(this.emit, this.id, session.sid, 'migrate-request');
    try {
      const target = this.handoffs === null || this.stopping !== null ? null : await this.handoffs.migrate(this, session, answer.to);
      if (target === null) {
        const body = Buffer.allocUnsafe(2);
        body.writeUInt16BE(MIGRATE_NO_TARGET_CODE, 0);
        link.sendPacket(session.encode(answer.ver, answer.cmd, Status.Err, body));
        if (this.shutdownExpired) steps.cut();
        return false;
      }
      emitPhase(this.emit, this.id, session.sid, 'handoff-stored');
      steps.leave();
      link.sendPacket(session.encode(answer.ver, answer.cmd, Status.Ok, encodeMigrateAnswer(target.address, target.ticket)));
      emitPhase(this.emit, this.id, session.sid, 'answer-sent');
      steps.closeLink();
      return true;
    } finally {
      session.migrating = false;
    }
  }

  /** The transport's steps around a migrate answer on `link` (TcpNode, UdpNode). */
  protected abstract handOffSteps(session: Session, link: SessionLink): HandOffSteps | null;

  /** Rooms: the owner's 1/7 answered with the 7.4 body for the room's target (PROTOCOL 10.2). */
  answerHandOff(session: Session, link: SessionLink, to: string, ver: number, cmd: number): Promise<boolean> {
    const steps = this.handOffSteps(session, link);
    if (steps === null) return Promise.resolve(false);
    return this.handOff(session, link, steps, { ver, cmd, to });
  }

  /**
   * PROTOCOL 10.2: a migration the server starts. The session is handed to node `to` and the
   * client gets ver 0 cmd 2 (status 0xFF) with the 7.4 body, which it carries out as if it had
   * asked. False when there is no such target or the session is not connected here.
   */
  async pushHandOff(session: Session, to: string): Promise<boolean> {
    const link = session.link;
    if (this.handoffs === null || this.stopping !== null || link === null || session.migrating || session.handedOffByPush) return false;
    session.migrating = true;
    try {
      const target = await this.handoffs.migrate(this, session, to, true);
      if (target === null || session.link !== link) return false;
      session.handedOffByPush = true;
      session.forwardTo(this.handoffs.forwarder(target.to, session.sid));
      this.departByPush(session);
      link.sendPacket(session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Push, encodeMigrateAnswer(target.address, target.ticket)));
      return true;
    } finally {
      session.migrating = false;
    }
  }

  /** PROTOCOL 10.2 at the target: a late request from the old node, served once the claim binds. */
  acceptForwarded(sid: string, ver: number, cmd: number, body: Buffer): void {
    const s = this.localSession(sid);
    if (s === undefined) return this.drop('unexpected', sid);
    // Held while unbound, while the old node's forward-end is awaited, or behind others not served yet.
    if (s.link === null || (s.remoteForward !== null && !s.remoteForward.opened) || s.hasForwarded) {
      if (!s.holdForwarded(ver, cmd, body)) this.drop('unexpected', sid);
      return;
    }
    // Bound already (a late retransmission): served now, answered on the new link.
    void dispatchRequest(this, s, s.link, ver, cmd, body);
  }

  /** PROTOCOL 10.2 at a target in another process: the old node forwards nothing more for `sid`. */
  acceptForwardEnd(sid: string): void {
    this.localSession(sid)?.remoteForward?.open();
  }

  /**
   * Serves the forwarded requests of a session that just bound, in order, before anything else
   * (the transport's queue waits on the returned promise, so the new link's requests come after).
   */
  runForwarded(session: Session, link: SessionLink): void | Promise<void> {
    const gate = session.remoteForward;
    if (gate !== null && !gate.opened) {
      const timedOut = (): void =>
        this.emit('store-error', { op: 'forward-end', error: new Error(`no forward-end for ${session.sid} within ${FORWARD_END_WAIT_MS} ms`) });
      return gate.wait(this.clock, FORWARD_END_WAIT_MS, timedOut).then(() => this.runForwarded(session, link));
    }
    let chain: Promise<void> | null = null;
    for (const f of session.takeForwarded()) {
      if (chain !== null) {
        chain = chain.then(() => dispatchRequest(this, session, link, f.ver, f.cmd, f.payload));
        continue;
      }
      const r = dispatchRequest(this, session, link, f.ver, f.cmd, f.payload);
      if (r instanceof Promise) chain = r;
    }
    return chain ?? undefined;
  }

  protected drop(reason: DropReason, sid: string | null): void {
    this.stats.drops[reason]++;
    this.emit('drop', { nodeId: this.id, reason, sid });
  }
}
