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
  toHex,
  VER_BUILTIN,
} from '../protocol';
import { dispatchRequest, NodeControl } from './dispatch';
import { OrderedQueue } from './ordered-queue';
import type { Session, SessionLink } from './session';

/** How long a half-closed connection waits for the client's end before it is destroyed. */
const LINGER_MS = 5000;

/** What a connection needs from its node beyond dispatch. */
export interface TcpNodeControl extends NodeControl {
  readonly maxPayload: number;
  findSession(sid: string): Session | null | Promise<Session | null>;
  bind(conn: TcpConnection, session: Session): void;
  connectionClosed(conn: TcpConnection): void;
}

export class TcpConnection implements SessionLink {
  session: Session | null = null;
  private readonly queue: OrderedQueue;
  private readonly re: StreamReassembler<RequestPacket>;
  private ending = false;
  private closed = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  /** Resolves once the socket is fully closed. */
  readonly done: Promise<void>;

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
        this.queue.close();
        if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
        node.connectionClosed(this);
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      if (!this.ending && this.re.finish() === 'truncated') this.drop('truncated');
    });
    // 'close' follows every error; nothing else to do here.
    socket.on('error', () => undefined);
  }

  sendPacket(packet: Buffer): void {
    if (this.closed || this.socket.writableEnded) return;
    this.node.stats.bytesOut += packet.length;
    if (packet[10] === Status.Push) this.node.stats.pushes++;
    else this.node.stats.responses++;
    this.socket.write(packet);
  }

  /** Half-closes after what was written; further input is discarded until the client ends. */
  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    this.queue.close();
    this.socket.end();
    this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
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
      this.queue.push(() => this.handle(pkt));
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

  /** First request: must be a heartbeat for a session registered on this node. */
  private handshake(pkt: RequestPacket): void | Promise<void> {
    // TODO(migration): ver 0 cmd 2 here is the claim at a migration target (PROTOCOL section 7.6).
    if (pkt.ver !== VER_BUILTIN || pkt.cmd !== BuiltinCmd.KeepAlive || pkt.payload.length < SID_SIZE) {
      return this.refuse('refused');
    }
    const found = this.node.findSession(toHex(pkt.payload.subarray(0, SID_SIZE)));
    if (found instanceof Promise) return found.then((s) => this.accept(pkt, s));
    return this.accept(pkt, found);
  }

  private accept(pkt: RequestPacket, session: Session | null): void {
    if (this.closed) return;
    if (session === null) return this.refuse('refused');
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
  private refuse(reason: FinReason): void {
    this.node.stats.refused++;
    this.node.emit('refused', { nodeId: this.node.id, reason });
    this.sendPacket(encodeResponse(VER_BUILTIN, BuiltinCmd.Fin, Status.Push, encodeFin(reason)));
    this.end();
  }
}
