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
import { encodeMigrateAnswer, Handoffs } from './handoff';
import { emitPhase } from './migration-phases';
import type { RealtimeNode } from './node';
import type { Session, SessionLink } from './session';
import type { ClusterStore, SessionRecord } from './store';
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

export abstract class NodeBase implements RealtimeNode {
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
  protected unsubscribe: (() => void) | null = null;
  protected stopping: Promise<void> | null = null;
  /** The shutdown timeout ran out: a client still here after a failed migration is cut too. */
  protected shutdownExpired = false;
  private nodeState: NodeState = 'online';
  private readonly shutdownTimeoutMs: number;
  private cancelShutdown: (() => void) | null = null;

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
  }

  get state(): NodeState {
    return this.nodeState;
  }

  /** Sessions registered here, connected or not yet. */
  abstract get users(): number;
  abstract start(): Promise<void>;
  abstract adoptSession(rec: SessionRecord): Session;
  abstract deliverPush(sid: string, ver: number, cmd: number, payload: Buffer): void;
  abstract stop(): Promise<void>;
  /** PROTOCOL 7.1: every connected client learns at once that the node is going offline. */
  protected abstract announceOffline(): void;
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
      this.cancelShutdown = this.clock.setTimer(() => {
        this.cancelShutdown = null;
        this.shutdownExpired = true;
        this.shutdownTimedOut();
      }, this.shutdownTimeoutMs);
      this.announceOffline();
      emitPhase(this.emit, this.id, null, 'offline-notice');
    }
    return written;
  }

  /** Registers the listening node in the store and subscribes to the pushes routed to it. */
  protected async register(): Promise<void> {
    await this.store.registerNode({ id: this.id, type: this.type, host: this.host, port: this.port, state: this.nodeState });
    this.unsubscribe = await this.store.subscribePushes(this.id, (sid, ver, cmd, payload) =>
      this.deliverPush(sid, ver, cmd, payload),
    );
  }

  protected stopShutdownTimer(): void {
    this.cancelShutdown?.();
    this.cancelShutdown = null;
  }

  /**
   * PROTOCOL 7.3-7.5 at the old node, after every earlier request of the client: hand off, answer
   * address || ticket on the link the request came from (status 5 / 1003 without a target).
   */
  protected async handOff(session: Session, link: SessionLink, steps: HandOffSteps): Promise<void> {
    session.migrating = true;
    emitPhase(this.emit, this.id, session.sid, 'migrate-request');
    try {
      const target = this.handoffs === null || this.stopping !== null ? null : await this.handoffs.migrate(this, session);
      if (target === null) {
        const body = Buffer.allocUnsafe(2);
        body.writeUInt16BE(MIGRATE_NO_TARGET_CODE, 0);
        link.sendPacket(session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Err, body));
        if (this.shutdownExpired) steps.cut();
        return;
      }
      emitPhase(this.emit, this.id, session.sid, 'handoff-stored');
      steps.leave();
      link.sendPacket(session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Ok, encodeMigrateAnswer(target.address, target.ticket)));
      emitPhase(this.emit, this.id, session.sid, 'answer-sent');
      steps.closeLink();
    } finally {
      session.migrating = false;
    }
  }

  protected drop(reason: DropReason, sid: string | null): void {
    this.stats.drops[reason]++;
    this.emit('drop', { nodeId: this.id, reason, sid });
  }
}
