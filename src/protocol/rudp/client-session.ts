/**
 * The CLIENT side of one UDP session, sans-I/O: a small reference used by the pure-TS test client
 * and by the RUDP unit tests (the product client is the native UdpClient). It assumes a connected
 * socket: everything handed to onDatagram comes from the server.
 */
import { encodeRequest, parseAllResponses } from '../codec';
import { DEFAULT_MAX_PAYLOAD, DropReason } from '../constants';
import { isOpenError, SessionCrypto } from '../crypto';
import { UDP_MAX_DATAGRAM_BODY } from '../ours';
import { encodeAckRecords, encodeDatagram, Flag, isParsed, isTerminate, parseDatagram, parseServerAckRecords } from './datagram';
import { Fragmenter, isFragment, Reassembler } from './fragment';
import { ReliableReceiver, ReliableSender, RetryOptions, SenderStats } from './reliable';

export type ClientState = 'idle' | 'syn-sent' | 'open' | 'closing' | 'fin-sent' | 'closed';
export type ClientEndReason = 'connect-timeout' | 'timeout' | 'closed-by-server' | 'closed-by-user';

export interface ClientSessionOptions extends RetryOptions {
  sid: Buffer;
  crypto: SessionCrypto;
  maxPayload?: number;
  connectTimeoutMs?: number;
  synIntervalMs?: number;
  sendWindow?: number;
  receiveWindow?: number;
}

export interface ClientSessionHandler {
  send(datagram: Buffer): void;
  connected(): void;
  /** A response or push, opened; `reliable` false for flag UDP. */
  packet(ver: number, cmd: number, status: number, body: Buffer, reliable: boolean): void;
  drop(reason: DropReason): void;
  closed(reason: ClientEndReason): void;
}

export class ClientSession {
  private st: ClientState = 'idle';
  private serverSeq = -1;
  private sender: ReliableSender | null = null;
  private receiver: ReliableReceiver | null = null;
  private readonly fragmenter = new Fragmenter();
  private readonly reassembler: Reassembler;
  private synDue = 0;
  private connectDeadline = 0;
  private finDue = 0;
  private finTries = 0;
  private readonly maxPayload: number;

  constructor(
    private readonly o: ClientSessionOptions,
    private readonly h: ClientSessionHandler,
  ) {
    this.maxPayload = o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.reassembler = new Reassembler({ maxPayload: this.maxPayload });
  }

  get state(): ClientState {
    return this.st;
  }

  /** The server's initial sequence S learnt in the handshake (-1 before). */
  get initialServerSeq(): number {
    return this.serverSeq;
  }

  senderStats(): SenderStats | null {
    return this.sender === null ? null : this.sender.snapshot();
  }

  get allAcked(): boolean {
    return this.sender === null || this.sender.idle;
  }

  connect(now: number): void {
    if (this.st !== 'idle') return;
    this.st = 'syn-sent';
    this.connectDeadline = now + (this.o.connectTimeoutMs ?? 10_000);
    this.sendSyn(now);
  }

  /** Reliable request; false when not open or the local queue refuses it. */
  send(ver: number, cmd: number, body: Uint8Array, now: number): boolean {
    if (this.sender === null || this.st !== 'open') return false;
    const packet = encodeRequest(ver, cmd, this.o.sid, this.o.crypto.seal(body));
    let ok = true;
    for (const c of this.fragmenter.splitRequest(packet, ver, cmd, this.o.sid)) ok = this.sender.send(c, now) && ok;
    return ok;
  }

  sendUnreliable(ver: number, cmd: number, body: Uint8Array): boolean {
    if (this.st !== 'open') return false;
    const packet = encodeRequest(ver, cmd, this.o.sid, this.o.crypto.seal(body));
    if (packet.length > UDP_MAX_DATAGRAM_BODY) return false;
    this.h.send(encodeDatagram(0, Flag.UDP, packet));
    return true;
  }

  /** Flushes what is unacknowledged, then FIN (body SID) until ACK 0. */
  close(now: number): void {
    if (this.st === 'open') {
      this.st = 'closing';
      this.progress(now);
    } else if (this.st === 'idle' || this.st === 'syn-sent') this.finish('closed-by-user');
  }

  onDatagram(d: Buffer, now: number): void {
    if (this.st === 'closed' || this.st === 'idle') return this.h.drop('unexpected');
    if (isTerminate(d)) return this.finish('closed-by-server');
    const p = parseDatagram(d);
    if (!isParsed(p)) return this.h.drop(p.error);
    switch (p.flag) {
      case Flag.SYN:
        if (this.st === 'syn-sent') this.open(p.seq);
        if (p.seq === this.serverSeq) this.h.send(encodeAckRecords([{ seq: p.seq, flag: Flag.ACK }], this.o.sid));
        else this.h.drop('unexpected');
        return;
      case Flag.ACK:
      case Flag.RACK: {
        const recs = parseServerAckRecords(d);
        if (recs === null) return this.h.drop('bad-body');
        for (const r of recs) {
          if (this.st === 'fin-sent' && r.seq === 0 && r.flag === Flag.ACK) return this.finish('closed-by-user');
          this.sender?.onAck(r, now);
        }
        return this.progress(now);
      }
      case Flag.DAT:
      case Flag.RDAT: {
        if (this.receiver === null) return this.h.drop('unexpected');
        const r = this.receiver.onData(p.seq, p.flag, p.body);
        if (r.ack !== null) this.h.send(encodeAckRecords([r.ack], this.o.sid));
        if (r.drop !== undefined) this.h.drop(r.drop);
        for (const body of r.delivered) {
          if (!isFragment(body)) {
            this.deliver(body, true);
            continue;
          }
          const res = this.reassembler.feed(body);
          if (res.kind === 'rejected') this.h.drop(res.reason);
          else if (res.kind === 'complete') this.deliver(res.packet, true);
        }
        return this.progress(now);
      }
      case Flag.FIN:
        this.h.send(encodeAckRecords([{ seq: 0, flag: Flag.ACK }], this.o.sid));
        return this.finish('closed-by-server');
      case Flag.UDP:
        return this.deliver(p.body, false);
    }
  }

  tick(now: number): void {
    if (this.st === 'syn-sent') {
      if (now >= this.connectDeadline) return this.finish('connect-timeout');
      if (now >= this.synDue) this.sendSyn(now);
      return;
    }
    if (this.sender !== null && (this.st === 'open' || this.st === 'closing')) {
      if (!this.sender.tick(now)) return this.finish('timeout');
    }
    if (this.st === 'fin-sent' && now >= this.finDue) {
      if (this.finTries >= 5) return this.finish('closed-by-user');
      this.sendFin(now);
    }
    this.progress(now);
  }

  nextDeadline(): number | null {
    if (this.st === 'syn-sent') return Math.min(this.synDue, this.connectDeadline);
    if (this.st === 'fin-sent') return this.finDue;
    return this.sender?.nextDeadline() ?? null;
  }

  private open(seq: number): void {
    this.serverSeq = seq;
    this.st = 'open';
    this.receiver = new ReliableReceiver(seq, this.o.receiveWindow);
    this.sender = new ReliableSender(
      {
        initialSeq: 0,
        window: this.o.sendWindow,
        retryMinMs: this.o.retryMinMs,
        retryMaxMs: this.o.retryMaxMs,
        maxRetries: this.o.maxRetries,
        adaptive: this.o.adaptive,
        rtoMinMs: this.o.rtoMinMs,
      },
      (d) => this.h.send(d),
    );
    this.h.connected();
  }

  private deliver(buf: Buffer, reliable: boolean): void {
    const { packets, error } = parseAllResponses(buf, this.maxPayload);
    for (const p of packets) {
      const body = this.o.crypto.open(p.payload);
      if (isOpenError(body)) this.h.drop(body.error);
      else this.h.packet(p.ver, p.cmd, p.status, body, reliable);
    }
    if (error !== null) this.h.drop(error);
  }

  private progress(now: number): void {
    if (this.st === 'closing' && this.allAcked) this.sendFin(now);
  }

  private sendSyn(now: number): void {
    this.synDue = now + (this.o.synIntervalMs ?? 500);
    this.h.send(encodeDatagram(0, Flag.SYN, this.o.sid));
  }

  private sendFin(now: number): void {
    this.st = 'fin-sent';
    this.finTries++;
    this.finDue = now + (this.o.retryMinMs ?? 1000);
    this.h.send(encodeDatagram(0, Flag.FIN, this.o.sid));
  }

  private finish(reason: ClientEndReason): void {
    if (this.st === 'closed') return;
    this.st = 'closed';
    this.sender?.forget();
    this.h.closed(reason);
  }
}
