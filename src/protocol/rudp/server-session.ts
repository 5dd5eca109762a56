/**
 * The SERVER side of one UDP session (PROTOCOL.md sections 4, 5, 7.1), sans-I/O.
 *
 * Datagrams (already routed here by SID or bound address) and now(ms) in; datagrams, authenticated
 * requests and close events out through the handler; timers as `nextDeadline()` + `tick(now)`.
 *
 * Life: 'waiting' (only bounded, expiring handshake records) -> 'bound' (first authenticated DAT from
 * an address with a handshake record) -> 'closing' (Fin push queued, waiting for every DAT to be
 * acknowledged) -> 'fin-sent' -> 'closed'.
 *
 * At a migration target (PROTOCOL 7.6, `requireClaim()` true) the session binds only through the
 * claim: the first DAT (seq 0) must be exactly one authenticated request ver 0 cmd 2 with a 16-byte
 * body. It is handed to `claim()` and held unacknowledged until the node calls acceptClaim() or
 * refuseClaim(); every other pre-bind DAT is dropped or refused, so replayed packets of the old
 * connection cannot bind it.
 */
import { randomInt } from 'node:crypto';
import { encodeResponse, parseRequest, type RequestPacket } from '../codec';
import {
  BuiltinCmd,
  DEFAULT_CONNECTION_TTL_MS,
  DEFAULT_MAX_PAYLOAD,
  DropReason,
  FRAGMENT_CHUNK_MAX,
  SID_SIZE,
  Status,
} from '../constants';
import { isOpenError } from '../crypto';
import { encodeFin } from '../keepalive';
import { PENDING_PUSH_LIMIT, UDP_MAX_DATAGRAM_BODY } from '../ours';
import { addrKey, PeerAddr, sameAddr } from './address';
import { AckRecord, Datagram, encodeAckRecords, encodeDatagram, Flag, TERMINATE, TRANSPORT_HEADER_SIZE } from './datagram';
import { Fragmenter, isFragment, Reassembler } from './fragment';
import { ReliableReceiver, ReliableSender, SenderStats } from './reliable';
import { authenticate, checkClaim, checkSid, isOwnChunk, refusalDatagrams, SessionAuth } from './server-session-auth';
import type { ServerSessionHandler, ServerSessionOptions, SessionEndReason, SessionState } from './server-session-types';

export type { ServerSessionHandler, ServerSessionOptions, SessionEndReason, SessionState } from './server-session-types';

/**
 * Chunks of a first message too large for one DAT, held (and acknowledged) before the session is
 * bound: a chunk alone cannot be authenticated, so the whole message must be, then it binds.
 */
interface Staging {
  receiver: ReliableReceiver;
  reassembler: Reassembler;
}

interface Handshake {
  seq: number;
  expires: number;
  /** When the SYN answer first went out, and how often: one answer gives an RTT sample at bind. */
  answeredAt: number;
  answers: number;
  acked: boolean;
  stage: Staging | null;
  /** The claim DAT body while the node checks its ticket (held unacknowledged meanwhile). */
  claim: Buffer | null;
}

/** ACK records repeated from earlier ACK datagrams (4 bytes each from the server). */
const REPEAT_ACKS = 8;

export class ServerSession {
  private st: SessionState = 'waiting';
  private readonly handshakes = new Map<string, Handshake>();
  private peerAddr: PeerAddr | null = null;
  private sender: ReliableSender | null = null;
  private receiver: ReliableReceiver | null = null;
  private readonly fragmenter = new Fragmenter();
  private reassembler: Reassembler;
  /** Reliable packets produced before the session is bound (pushes for a connecting user). */
  private readonly preBind: Buffer[] = [];
  /** ACK/RACK records of this turn, sent together by flush() (paced by ackDelayMs, see the options). */
  private acks: AckRecord[] = [];
  /** When the records in `acks` may go (-Infinity: at this turn's flush). */
  private acksDueAt = 0;
  /** When the latest ACK datagram went. */
  private acksSentAt = Number.NEGATIVE_INFINITY;
  /** The latest ACK records sent, repeated in the next ACK datagrams (flushAcks). */
  private recentAcks: AckRecord[] = [];
  private lastHeard = 0;
  private endReason: SessionEndReason = 'closed-by-client';
  private finDue = 0;
  private finTries = 0;
  private readonly maxPayload: number;
  private readonly ttl: number;
  private readonly hsTtl: number;
  private readonly maxHs: number;
  private readonly finRetries: number;
  private readonly random24: () => number;
  private readonly auth: SessionAuth;
  readonly counters = { datagramsIn: 0, datagramsOut: 0, requests: 0, drops: 0 };

  constructor(
    private readonly opts: ServerSessionOptions,
    private readonly h: ServerSessionHandler,
  ) {
    if (opts.sid.length !== SID_SIZE) throw new RangeError('SID must be 16 bytes');
    this.maxPayload = opts.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.ttl = opts.connectionTtlMs ?? DEFAULT_CONNECTION_TTL_MS;
    this.hsTtl = opts.handshakeTtlMs ?? 10_000;
    this.maxHs = opts.maxHandshakes ?? 4;
    this.finRetries = opts.finRetries ?? 5;
    this.random24 = opts.random24 ?? (() => randomInt(0, 1 << 24));
    this.reassembler = new Reassembler({ maxPayload: this.maxPayload });
    this.auth = { sid: opts.sid, crypto: opts.crypto, maxPayload: this.maxPayload };
  }

  get state(): SessionState {
    return this.st;
  }

  get peer(): PeerAddr | null {
    return this.peerAddr;
  }

  /** The client's public address as the echo answer reports it. */
  get publicAddress(): string {
    return this.peerAddr === null ? '' : addrKey(this.peerAddr);
  }

  get pendingHandshakes(): number {
    return this.handshakes.size;
  }

  senderStats(): SenderStats | null {
    return this.sender === null ? null : this.sender.snapshot();
  }

  /** True when nothing the server sent is unacknowledged or queued. */
  get allAcked(): boolean {
    return this.preBind.length === 0 && (this.sender === null || this.sender.idle);
  }

  // ---------------------------------------------------------------- input

  /** A parsed datagram from `from` (the node checked that SYN/DAT/FIN/UDP carry this SID). */
  onDatagram(d: Datagram, from: PeerAddr, now: number): void {
    if (this.st === 'closed') return this.drop('unexpected');
    this.counters.datagramsIn++;
    switch (d.flag) {
      case Flag.SYN:
        return this.onSyn(from, now);
      case Flag.DAT:
      case Flag.RDAT:
        return this.onData(d, from, now);
      case Flag.FIN:
        return this.onFin(from, now);
      case Flag.UDP:
        return this.onUnreliable(d.body, from, now);
      default:
        // ACK/RACK come through onAcks (records carry the SID each).
        return this.drop('unexpected');
    }
  }

  /** ACK/RACK records from `from` that carried this session's SID. */
  onAcks(records: readonly AckRecord[], from: PeerAddr, now: number): void {
    if (this.st === 'closed') return this.drop('unexpected');
    this.counters.datagramsIn++;
    if (this.peerAddr === null) {
      const hs = this.liveHandshake(from, now);
      // The handshake ACK: complete, but nothing is sent until the first authenticated DAT binds.
      if (hs !== undefined && records.some((r) => r.flag === Flag.ACK && r.seq === hs.seq)) hs.acked = true;
      else this.drop('unexpected');
      return;
    }
    if (!sameAddr(from, this.peerAddr)) return this.drop('foreign-address');
    this.lastHeard = now;
    for (const r of records) {
      if (this.st === 'fin-sent' && r.seq === 0 && r.flag === Flag.ACK) return this.finish(this.endReason);
      this.sender?.onAck(r, now);
    }
    this.afterProgress(now);
  }

  /** The raw terminate datagram from `from`. */
  onTerminate(from: PeerAddr): void {
    if (this.st === 'closed' || this.peerAddr === null) return this.drop('unexpected');
    if (!sameAddr(from, this.peerAddr)) return this.drop('foreign-address');
    this.finish('closed-by-client');
  }

  private onSyn(from: PeerAddr, now: number): void {
    if (this.peerAddr !== null && !sameAddr(from, this.peerAddr)) return this.drop('foreign-address');
    let hs = this.liveHandshake(from, now);
    if (hs === undefined) {
      if (this.peerAddr !== null) return this.drop('unexpected');
      this.expireHandshakes(now);
      while (this.handshakes.size >= this.maxHs) {
        const oldest = this.handshakes.keys().next();
        if (oldest.done === true) break;
        this.handshakes.delete(oldest.value);
      }
      hs = { seq: this.random24() & 0xffffff, expires: now + this.hsTtl, answeredAt: now, answers: 0, acked: false, stage: null, claim: null };
      this.handshakes.set(addrKey(from), hs);
    }
    hs.answers++;
    this.out(encodeDatagram(hs.seq, Flag.SYN), from);
  }

  private onData(d: Datagram, from: PeerAddr, now: number): void {
    if (this.peerAddr !== null) {
      if (!sameAddr(from, this.peerAddr)) return this.drop('foreign-address');
    } else {
      const hs = this.liveHandshake(from, now);
      if (hs === undefined) return this.drop('unexpected');
      if (this.opts.requireClaim?.() === true) return this.onClaimData(hs, d, from);
      if (isOwnChunk(d.body, this.auth)) return this.stageChunk(hs, d, from, now);
      const bad = authenticate(d.body, this.auth);
      if (bad !== null) return this.drop(bad);
      this.bind(from, hs, now);
    }
    if (this.receiver === null) return;
    this.lastHeard = now;
    const r = this.receiver.onData(d.seq, d.flag === Flag.DAT ? Flag.DAT : Flag.RDAT, d.body);
    if (r.ack !== null) this.queueAck(r.ack, now);
    if (r.drop !== undefined) this.drop(r.drop);
    for (const body of r.delivered) {
      if (this.st === 'closed') return;
      this.deliverBody(body);
    }
    this.afterProgress(now);
  }

  private onFin(from: PeerAddr, now: number): void {
    if (this.peerAddr === null) {
      if (this.liveHandshake(from, now) === undefined) return this.drop('unexpected');
      this.handshakes.delete(addrKey(from));
      this.out(encodeDatagram(0, Flag.ACK), from);
      return;
    }
    if (!sameAddr(from, this.peerAddr)) return this.drop('foreign-address');
    this.out(encodeDatagram(0, Flag.ACK), from);
    this.finish('closed-by-client');
  }

  private onUnreliable(body: Buffer, from: PeerAddr, now: number): void {
    if (this.peerAddr === null) return this.drop('unexpected');
    if (!sameAddr(from, this.peerAddr)) return this.drop('foreign-address');
    this.lastHeard = now;
    this.deliverPackets(body, false);
  }

  // ---------------------------------------------------------------- output

  /**
   * Sends a response or push reliably (fragmented when larger than one chunk). Before the session
   * is bound it is held (bounded). false when the session is closed or the hold is full.
   */
  sendPacket(ver: number, cmd: number, status: number, body: Uint8Array, now: number): boolean {
    return this.sendEncoded(encodeResponse(ver, cmd, status, this.opts.crypto.seal(body)), now);
  }

  /** sendPacket for an already encoded (and secured) response/push packet. */
  sendEncoded(packet: Buffer, now: number): boolean {
    if (this.st === 'closed' || this.st === 'fin-sent') return false;
    if (this.sender === null) {
      if (this.preBind.length >= PENDING_PUSH_LIMIT) return false;
      this.preBind.push(packet);
      return true;
    }
    return this.queueReliable(this.sender, packet, now);
  }

  /** A packet into the sender: packed with its neighbours, or cut into chunks that travel alone. */
  private queueReliable(sender: ReliableSender, packet: Buffer, now: number): boolean {
    if (packet.length <= FRAGMENT_CHUNK_MAX && !isFragment(packet, 0)) return sender.send(packet, now);
    const chunks = this.fragmenter.split(packet);
    if (chunks.length === 1 && !isFragment(chunks[0], 0)) return sender.send(chunks[0], now);
    let ok = true;
    for (const c of chunks) ok = sender.send(c, now, true) && ok;
    return ok;
  }

  /** The waiting ACK records go at this turn's flush (not at a later pace). */
  private get acksAtFlush(): boolean {
    return (this.opts.ackDelayMs ?? 0) <= 0 || this.acksDueAt === Number.NEGATIVE_INFINITY || this.acks.length >= (this.opts.ackEvery ?? 1);
  }

  /**
   * The end of the owner's turn: the partly packed DAT and this turn's ACK records (several to a
   * datagram) go out. The node calls it once per event-loop turn for sessions that have output
   * (hasUnflushed): records due at the flush arm no timer (nextDeadline leaves them out).
   */
  flush(now: number): void {
    if (this.st === 'closed') return;
    this.sender?.flush(now);
    if (this.acksDue(now)) this.flushAcks(now);
  }

  /** flush() would send something now (delayed ACK records wait for nextDeadline()). */
  get hasUnflushed(): boolean {
    return (this.acks.length > 0 && this.acksAtFlush) || (this.sender?.hasUnflushed ?? false);
  }

  /**
   * ACK datagrams are paced, one per ackDelayMs at most (the client's ReliableChannel does the same):
   * the first record after a quiet time goes at its turn's flush (no timer for a lone DAT), later
   * ones wait for the pace.
   */
  private queueAck(rec: AckRecord, now: number): void {
    if (this.acks.length === 0) {
      const pace = this.acksSentAt + (this.opts.ackDelayMs ?? 0);
      this.acksDueAt = now >= pace ? Number.NEGATIVE_INFINITY : pace;
    }
    this.acks.push(rec);
  }

  private acksDue(now: number): boolean {
    if (this.acks.length === 0) return false;
    return now >= this.acksDueAt || this.acks.length >= (this.opts.ackEvery ?? 1);
  }

  private flushAcks(now: number): void {
    if (this.acks.length === 0 || this.peerAddr === null) {
      this.acks = [];
      return;
    }
    this.acksSentAt = now;
    const perDatagram = Math.floor(UDP_MAX_DATAGRAM_BODY / TRANSPORT_HEADER_SIZE) + 1;
    for (let i = 0; i < this.acks.length; i += perDatagram) {
      const records = this.acks.slice(i, i + perDatagram);
      const fresh = records.length;
      // The latest records of earlier ACK datagrams again, where they fit: records are per DAT,
      // with no cumulative acknowledgement, so a lost ACK datagram would cost the client a resend
      // of every DAT it acknowledged.
      for (let k = this.recentAcks.length - 1; k >= 0 && records.length < perDatagram; k--) {
        const r = this.recentAcks[k];
        if (!records.some((x, j) => j < fresh && x.seq === r.seq && x.flag === r.flag)) records.push(r);
      }
      this.recentAcks = [...this.recentAcks, ...records.slice(Math.max(0, fresh - REPEAT_ACKS), fresh)].slice(-REPEAT_ACKS);
      this.out(encodeAckRecords(records), this.peerAddr);
    }
    this.acks = [];
  }

  /** An unreliable response (flag UDP); false when not bound or larger than one datagram. */
  sendUnreliable(ver: number, cmd: number, status: number, body: Uint8Array): boolean {
    return this.sendUnreliableEncoded(encodeResponse(ver, cmd, status, this.opts.crypto.seal(body)));
  }

  sendUnreliableEncoded(packet: Buffer): boolean {
    if (this.peerAddr === null || this.st === 'closed') return false;
    if (packet.length > UDP_MAX_DATAGRAM_BODY) return false;
    this.out(encodeDatagram(0, Flag.UDP, packet), this.peerAddr);
    return true;
  }

  /**
   * Graceful close: a Fin push with `reason` (none for 'migrated'), then, once every DAT is
   * acknowledged, FIN until its ACK 0 (bounded).
   */
  close(reason: SessionEndReason, now: number): void {
    if (this.st === 'closed' || this.st === 'closing' || this.st === 'fin-sent') return;
    this.endReason = reason;
    if (this.peerAddr === null) return this.finish(reason);
    if (reason !== 'closed-by-client' && reason !== 'migrated' && reason !== 'ended' && reason !== 'protocol-error') {
      this.sendPacket(0, BuiltinCmd.Fin, Status.Push, encodeFin(reason), now);
    }
    this.st = 'closing';
    this.afterProgress(now);
  }

  /**
   * The node found the claim's ticket good: binds to `from`, acknowledges the claim DAT (it is not
   * delivered as a request). false when there is no such claim pending or the session is bound.
   */
  acceptClaim(from: PeerAddr, now: number): boolean {
    if (this.st !== 'waiting' || this.peerAddr !== null) return false;
    const hs = this.handshakes.get(addrKey(from));
    if (hs === undefined || hs.claim === null) return false;
    const body = hs.claim;
    hs.claim = null;
    this.bind(from, hs, now);
    if (this.receiver === null) return true;
    const r = this.receiver.onData(0, Flag.DAT, body);
    if (r.ack !== null) {
      this.queueAck(r.ack, now);
      this.acksDueAt = Number.NEGATIVE_INFINITY; // the claim's ACK goes at this turn's flush: the move waits for it
    }
    this.afterProgress(now);
    return true;
  }

  /** The node refused the pending claim from `from`: Fin 'refused' + FIN to it, handshake forgotten. */
  refuseClaim(from: PeerAddr, detail: string): void {
    this.refuseHandshake(from, detail);
  }

  /**
   * Ends without a word to the peer: its address belongs to another client now, and a bare FIN or
   * terminate (neither names the session) sent there would end that client's session.
   */
  abandon(reason: SessionEndReason): void {
    this.finish(reason);
  }

  /** Immediate close: the terminate datagram to the bound client, no waiting. */
  destroy(reason: SessionEndReason): void {
    if (this.st === 'closed') return;
    if (this.peerAddr !== null) this.out(TERMINATE, this.peerAddr);
    this.finish(reason);
  }

  // ---------------------------------------------------------------- timers

  tick(now: number): void {
    if (this.st === 'closed') return;
    this.expireHandshakes(now);
    if (this.peerAddr === null) return;
    if (this.sender !== null && !this.sender.tick(now)) return this.destroy('timeout');
    if (this.acksDue(now)) this.flushAcks(now);
    if (now - this.lastHeard >= this.ttl) return this.destroy('timeout');
    if (this.st === 'fin-sent' && now >= this.finDue) {
      if (this.finTries >= this.finRetries) return this.finish(this.endReason);
      this.sendFin(now);
    }
    this.afterProgress(now);
  }

  nextDeadline(): number | null {
    if (this.st === 'closed') return null;
    // Called after every packet the node sends: no closure, no allocation.
    let d = Number.POSITIVE_INFINITY;
    if (this.handshakes.size > 0) for (const hs of this.handshakes.values()) if (hs.expires < d) d = hs.expires;
    if (this.peerAddr !== null) {
      const s = this.sender === null ? null : this.sender.nextDeadline();
      if (s !== null && s < d) d = s;
      // Records due at this turn's flush need no timer: the node flushes every session with output.
      if (this.acks.length > 0 && !this.acksAtFlush && this.acksDueAt < d) d = this.acksDueAt;
      if (this.lastHeard + this.ttl < d) d = this.lastHeard + this.ttl;
      if (this.st === 'fin-sent' && this.finDue < d) d = this.finDue;
    }
    return d === Number.POSITIVE_INFINITY ? null : d;
  }

  // ---------------------------------------------------------------- internals

  private liveHandshake(from: PeerAddr, now: number): Handshake | undefined {
    const hs = this.handshakes.get(addrKey(from));
    return hs !== undefined && hs.expires > now ? hs : undefined;
  }

  private expireHandshakes(now: number): void {
    for (const [k, hs] of this.handshakes) if (hs.expires <= now) this.handshakes.delete(k);
  }

   /** Pre-bind chunks: acknowledged and reassembled; the first whole message that authenticates binds. */
  private stageChunk(hs: Handshake, d: Datagram, from: PeerAddr, now: number): void {
    const st = (hs.stage ??= {
      receiver: new ReliableReceiver(0, this.opts.receiveWindow),
      reassembler: new Reassembler({ maxPayload: this.maxPayload }),
    });
    const r = st.receiver.onData(d.seq, d.flag === Flag.DAT ? Flag.DAT : Flag.RDAT, d.body);
    if (r.ack !== null) this.out(encodeAckRecords([r.ack]), from);
    if (r.drop !== undefined) this.drop(r.drop);
    for (let i = 0; i < r.delivered.length; i++) {
      const req = parseRequest(r.delivered[i], 0, this.maxPayload);
      if (req.kind !== 'ok') continue; // checked by isOwnChunk on arrival
      const res = st.reassembler.feed(req.packet.payload.subarray(SID_SIZE));
      if (res.kind === 'rejected') this.drop(res.reason);
      if (res.kind !== 'complete') continue;
      const bad = authenticate(res.packet, this.auth);
      if (bad !== null) {
        // Whoever sent it does not hold the keys: forget this handshake and what it held.
        this.handshakes.delete(addrKey(from));
        return this.drop(bad);
      }
      this.bind(from, hs, now);
      this.deliverPackets(res.packet, true);
      for (const rest of r.delivered.slice(i + 1)) if (this.st !== 'closed') this.deliverBody(rest);
      return this.afterProgress(now);
    }
  }

  /** Pre-bind DAT of a session that only a claim may bind (PROTOCOL 7.6). */
  private onClaimData(hs: Handshake, d: Datagram, from: PeerAddr): void {
    // Already checking this claim: the retransmission waits for the verdict, unacknowledged.
    if (hs.claim !== null) return this.drop('duplicate');
    // Later DATs of a pipelining client come back as retransmissions once the claim has bound.
    if (d.seq !== 0) return this.drop('unexpected');
    const c = checkClaim(d.body, this.auth);
    if (c.kind === 'refuse') {
      if (c.drop !== null) this.drop(c.drop);
      return this.refuseHandshake(from, c.detail);
    }
    hs.claim = Buffer.from(d.body);
    if (this.h.claim === undefined) return this.refuseHandshake(from, 'claim:unknown');
    this.h.claim(c.ticket, from);
  }

  /**
   * Refuses a handshake that has not bound: the Fin push 'refused' (sealed with the session keys) as
   * DAT S and RDAT S, then FIN. Best effort: nothing is retransmitted for a refused peer.
   */
  private refuseHandshake(from: PeerAddr, detail: string): void {
    const key = addrKey(from);
    const hs = this.handshakes.get(key);
    if (hs === undefined) return;
    this.handshakes.delete(key);
    for (const d of refusalDatagrams(hs.seq, this.opts.crypto)) this.out(d, from);
    this.h.refused?.(detail, from);
  }

  private bind(from: PeerAddr, hs: Handshake, now: number): void {
    this.peerAddr = { address: from.address, port: from.port };
    this.st = 'bound';
    this.lastHeard = now;
    this.receiver = hs.stage?.receiver ?? new ReliableReceiver(0, this.opts.receiveWindow);
    if (hs.stage !== null) this.reassembler = hs.stage.reassembler;
    this.handshakes.clear();
    this.handshakes.set(addrKey(from), { ...hs, stage: null, claim: null });
    this.sender = new ReliableSender(
      {
        initialSeq: hs.seq,
        firstNeedsRack: true,
        pack: true,
        window: this.opts.sendWindow,
        retryMinMs: this.opts.retryMinMs,
        retryMaxMs: this.opts.retryMaxMs,
        maxRetries: this.opts.maxRetries,
        adaptive: this.opts.adaptive,
        rtoMinMs: this.opts.rtoMinMs,
      },
      (d) => this.peerAddr !== null && this.out(d, this.peerAddr),
    );
    // SYN answer -> first DAT is one round trip (Karn: only with a single answer).
    if (hs.answers === 1) this.sender.seedRtt(now - hs.answeredAt);
    this.h.bound?.(this.peerAddr);
    for (const p of this.preBind.splice(0)) this.queueReliable(this.sender, p, now);
  }

  /** One in-order DAT body: a wrapped chunk, or whole request packets. */
  private deliverBody(body: Buffer): void {
    const r = parseRequest(body, 0, this.maxPayload);
    if (r.kind === 'ok' && r.packet.payload.length >= SID_SIZE && isFragment(r.packet.payload, SID_SIZE)) {
      const bad = checkSid(r.packet, this.opts.sid);
      if (bad !== null) return this.drop(bad);
      const res = this.reassembler.feed(r.packet.payload.subarray(SID_SIZE));
      if (res.kind === 'rejected') {
        this.drop(res.reason);
        // A repeat adds nothing; anything else broke the stream: nothing after it can be trusted.
        if (res.reason !== 'duplicate') this.destroy('protocol-error');
        return;
      }
      if (res.kind === 'complete') this.deliverPackets(res.packet, true);
      return;
    }
    this.deliverPackets(body, true);
  }

  /**
   * The request packets of one DAT/UDP body, in order. Parsed and checked first, then opened
   * together (one AES call per datagram), then handed over; a drop is reported in its place in the
   * sequence, and nothing is handed over once the session closed.
   */
  private deliverPackets(buf: Buffer, reliable: boolean): void {
    if (this.st === 'closed') return;
    const ops: (RequestPacket | DropReason)[] = [];
    const secured: Buffer[] = [];
    let off = 0;
    while (off < buf.length) {
      const r = parseRequest(buf, off, this.maxPayload);
      if (r.kind !== 'ok') {
        ops.push(r.kind === 'error' ? r.reason : 'truncated');
        break;
      }
      off += r.consumed;
      const bad = checkSid(r.packet, this.opts.sid);
      ops.push(bad ?? r.packet);
      if (bad === null) secured.push(r.packet.payload.subarray(SID_SIZE));
    }
    const opened = secured.length === 0 ? secured : this.opts.crypto.openAll(secured);
    const copy = !this.opts.crypto.encrypted;
    for (let i = 0, m = 0; i < ops.length && this.state !== 'closed'; i++) {
      const op = ops[i];
      if (typeof op === 'string') {
        this.drop(op);
        continue;
      }
      const body = opened[m++];
      if (isOpenError(body)) {
        this.drop(body.error);
        continue;
      }
      this.counters.requests++;
      // Decrypted bodies are fresh buffers; plaintext ones are views into the datagram: copied.
      this.h.request(op.ver, op.cmd, copy ? Buffer.from(body) : body, reliable);
    }
  }

  private afterProgress(now: number): void {
    if (this.st === 'closing' && this.allAcked) this.sendFin(now);
  }

  private sendFin(now: number): void {
    if (this.peerAddr === null) return;
    this.flushAcks(now);
    this.st = 'fin-sent';
    this.finTries++;
    this.finDue = now + (this.opts.retryMinMs ?? 1000);
    this.out(encodeDatagram(0, Flag.FIN), this.peerAddr);
  }

  private finish(reason: SessionEndReason): void {
    if (this.st === 'closed') return;
    this.st = 'closed';
    this.handshakes.clear();
    this.sender?.forget();
    this.reassembler.clear();
    this.h.closed(reason);
  }

  private drop(reason: DropReason): void {
    this.counters.drops++;
    this.h.drop(reason);
  }

  private out(d: Buffer, to: PeerAddr): void {
    this.counters.datagramsOut++;
    this.h.send(d, to);
  }
}
