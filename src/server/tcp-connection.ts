/**
 * One client TCP connection on a node: reassembles requests, runs them strictly in order, and
 * binds to a session through the first request (the heartbeat).
 */
import type { Socket } from 'node:net';
import {
  BuiltinCmd,
  decodeHeartbeat,
  DropReason,
  encodeFin,
  encodeHeartbeatAnswer,
  encodeResponse,
  FinReason,
  isOpenError,
  RequestPacket,
  SID_SIZE,
  Status,
  StreamReassembler,
  TICKET_SIZE,
  toHex,
  VER_BUILTIN,
} from '../protocol';
import { dispatchRequest, NodeControl } from './dispatch';
import { OrderedQueue } from './ordered-queue';
import type { Session, SessionLink } from './session';
import type { Clock } from './clock';
import type { ClaimResult } from './store';
import { emitPhase, phaseNow } from './migration-phases';

/** What a connection needs from its node beyond dispatch. */
export interface TcpNodeControl extends NodeControl {
  readonly maxPayload: number;
  /** How long a half-closed connection waits for the client's end before it is destroyed. */
  readonly lingerMs: number;
  readonly clock: Clock;
  /** PROTOCOL 7.6: checks a claim's ticket against the pending handoff. */
  claim(session: Session, ticket: Buffer): Promise<ClaimResult>;
  findSession(sid: string): Session | null | Promise<Session | null>;
  bind(conn: TcpConnection, session: Session): void;
  /** PROTOCOL 10.2: requests forwarded by the old node, served first after the claim. */
  runForwarded(session: Session, link: SessionLink): void | Promise<void>;
  connectionClosed(conn: TcpConnection): void;
}

export class TcpConnection implements SessionLink {
  session: Session | null = null;
  private readonly queue: OrderedQueue;
  private readonly re: StreamReassembler<RequestPacket>;
  private ending = false;
  private closed = false;
  private cancelLinger: (() => void) | null = null;
  /** Migrate requests received and not yet answered: the shutdown timeout spares this connection. */
  private migrationsInFlight = 0;
  /** Resolves once the socket is fully closed. */
  readonly done: Promise<void>;
  /** For the 'target-accepted' phase of a claim (known as such only once it arrives). */
  private readonly acceptedAt = phaseNow();
  /** Bound by a claim: the next answer is the migration's 'first-answer' phase. */
  private firstAnswerDue = false;

  constructor(
    readonly socket: Socket,
    private readonly node: TcpNodeControl,
  ) {
    this.re = StreamReassembler.forRequests(node.maxPayload);
    this.queue = new OrderedQueue((error) => {
      node.stats.handlerErrors++;
      node.emit('handler-error', { nodeId: node.id, uid: this.session?.uid ?? '', ver: -1, cmd: -1, error });
    });
    socket.setNoDelay(true);
    this.done = new Promise((resolve) => {
      socket.once('close', () => {
        this.closed = true;
        this.cancelLinger?.();
        const finish = (): void => {
          this.queue.close();
          node.connectionClosed(this);
          resolve();
        };
        // PROTOCOL 10.2: what a push-handed session still has queued goes to its new node first.
        if (this.session?.handedOffByPush === true) void this.queue.idle().then(finish);
        else finish();
      });
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      if (!this.ending && this.re.finish() === 'truncated') this.drop('truncated');
    });
    // 'close' follows every error; nothing else to do here.
    socket.on('error', () => undefined);
  }

  /** A migration answer is still on its way (PROTOCOL 7.5: the shutdown timeout does not cut it). */
  get migrationPending(): boolean {
    return this.migrationsInFlight > 0;
  }

  sendPacket(packet: Buffer): void {
    if (this.closed || this.socket.writableEnded) return;
    this.node.stats.bytesOut += packet.length;
    if (packet[10] === Status.Push) this.node.stats.pushes++;
    else {
      this.node.stats.responses++;
      if (this.firstAnswerDue && this.session !== null) {
        this.firstAnswerDue = false;
        emitPhase(this.node.emit, this.node.id, this.session.sid, 'first-answer');
      }
    }
    this.socket.write(packet);
  }

  /** Half-closes after what was written; further input is discarded until the client ends. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.queue.close();
    this.socket.end();
    // Input is read and discarded meanwhile, so the destroy never resets with unread data.
    this.cancelLinger = this.node.clock.setTimer(() => this.socket.destroy(), this.node.lingerMs);
  }

  destroy(): void {
    this.queue.close();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.node.stats.bytesIn += chunk.length;
    if (this.ending) return;
    this.re.feed(chunk);
    // Answers produced synchronously for this chunk leave in one write.
    this.socket.cork();
    for (;;) {
      const r = this.re.next();
      if (r.kind === 'need-more') break;
      if (r.kind === 'error') {
        this.protocolError(r.reason);
        break;
      }
      this.node.stats.requests++;
      const pkt = r.packet;
      if (pkt.ver === VER_BUILTIN && pkt.cmd === BuiltinCmd.Reconn) {
        // Counted from arrival, not from handling: it may wait behind slow handlers.
        this.migrationsInFlight++;
        this.queue.push(() => {
          const done = (): void => {
            this.migrationsInFlight--;
          };
          let res: void | Promise<void>;
          try {
            res = this.handle(pkt);
          } catch (err) {
            done();
            throw err;
          }
          if (res instanceof Promise) return res.finally(done);
          done();
        });
      } else this.queue.push(() => this.handle(pkt));
    }
    this.socket.uncork();
  }

  private protocolError(reason: DropReason): void {
    this.node.stats.protocolErrors++;
    this.node.stats.drops[reason]++;
    this.node.emit('protocol-error', { nodeId: this.node.id, reason });
    this.destroy();
  }

  private drop(reason: DropReason): void {
    this.node.stats.drops[reason]++;
    this.node.emit('drop', { nodeId: this.node.id, reason, sid: this.session?.sid ?? null });
  }

  private handle(pkt: RequestPacket): void | Promise<void> {
    const session = this.session;
    if (session === null) return this.handshake(pkt);
    if (pkt.payload.length < SID_SIZE) return this.drop('bad-body');
    if (!pkt.payload.subarray(0, SID_SIZE).equals(session.sidBytes)) return this.drop('unexpected');
    const body = session.crypto.open(pkt.payload.subarray(SID_SIZE));
    if (isOpenError(body)) return this.drop(body.error);
    return dispatchRequest(this.node, session, this, pkt.ver, pkt.cmd, body);
  }

  /** First request: a heartbeat for a session registered here, or the claim of a handed-off one. */
  private handshake(pkt: RequestPacket): void | Promise<void> {
    const isClaim = pkt.cmd === BuiltinCmd.Reconn;
    if (pkt.ver !== VER_BUILTIN || (pkt.cmd !== BuiltinCmd.KeepAlive && !isClaim) || pkt.payload.length < SID_SIZE) {
      return this.refuse('refused');
    }
    const found = this.node.findSession(toHex(pkt.payload.subarray(0, SID_SIZE)));
    const next = (s: Session | null): void | Promise<void> => (isClaim ? this.acceptClaim(pkt, s) : this.accept(pkt, s));
    if (found instanceof Promise) return found.then(next);
    return next(found);
  }

  /** PROTOCOL 7.6: only a claim with the pending ticket binds a handed-off session. */
  private async acceptClaim(pkt: RequestPacket, session: Session | null): Promise<void> {
    if (this.closed) return;
    if (session === null) return this.refuse('refused', 'claim:unknown-sid');
    emitPhase(this.node.emit, this.node.id, session.sid, 'target-accepted', this.acceptedAt);
    const body = session.crypto.open(pkt.payload.subarray(SID_SIZE));
    if (isOpenError(body)) {
      this.drop(body.error);
      return this.refuse('refused', 'claim:unauthenticated');
    }
    if (body.length !== TICKET_SIZE) {
      this.drop('bad-body');
      return this.refuse('refused', 'claim:bad-ticket');
    }
    const r = await this.node.claim(session, body);
    if (this.closed) return;
    if (!r.ok) return this.refuse('refused', `claim:${r.reason}`);
    emitPhase(this.node.emit, this.node.id, session.sid, 'claim-checked');
    session.awaitingClaim = false;
    this.session = session;
    this.node.bind(this, session);
    // The answer first, then the pushes held for the pending session, in order.
    this.sendPacket(session.encode(VER_BUILTIN, BuiltinCmd.Reconn, Status.Ok, Buffer.alloc(0)));
    this.firstAnswerDue = true;
    session.bind(this);
    // Inside this queue task: served before any request the client sends on this link.
    await this.node.runForwarded(session, this);
  }

  private accept(pkt: RequestPacket, session: Session | null): void {
    if (this.closed) return;
    if (session === null) return this.refuse('refused');
    // A handed-off session is bound by its claim only (PROTOCOL 7.6).
    if (session.awaitingClaim) return this.refuse('refused', 'heartbeat-before-claim');
    const body = session.crypto.open(pkt.payload.subarray(SID_SIZE));
    if (isOpenError(body)) {
      this.drop(body.error);
      return this.refuse('refused');
    }
    const ts = decodeHeartbeat(body);
    if (ts === null) {
      this.drop('bad-body');
      return this.refuse('refused');
    }
    this.session = session;
    this.node.bind(this, session);
    // The answer first, then any pushes held while the client was connecting.
    this.sendPacket(session.encode(VER_BUILTIN, BuiltinCmd.KeepAlive, Status.Ok, encodeHeartbeatAnswer(this.node.state, ts)));
    session.bind(this);
  }

  /**
   * Fin push + close. Before the first request authenticates the peer may hold no keys (unknown SID,
   * wrong keys), so the refusal Fin always goes in clear; clients read a Fin that does not open as
   * clear text. The reason string is public, nothing leaks.
   */
  private refuse(reason: FinReason, detail: string = reason): void {
    this.node.stats.refused++;
    this.node.emit('refused', { nodeId: this.node.id, reason: detail });
    this.sendPacket(encodeResponse(VER_BUILTIN, BuiltinCmd.Fin, Status.Push, encodeFin(reason)));
    this.end();
  }
}
