/**
 * One side's reliable channel (PROTOCOL.md section 4, "Reliable delivery"), sans-I/O: bodies and
 * now(ms) in, datagrams out through `emit`, timers as a deadline (`nextDeadline`) the owner honours
 * by calling `tick(now)`.
 */
import { DropReason, RUDP_MAX_RETRIES, RUDP_RETRY_MAX_MS, RUDP_RETRY_MIN_MS } from '../constants';
import { RUDP_RECEIVE_WINDOW, RUDP_RTO_MIN_MS, RUDP_SEND_WINDOW } from '../ours';
import { AckRecord, encodeDatagram, Flag, seqAdd, seqDiff } from './datagram';

export interface RetryOptions {
  retryMinMs?: number;
  retryMaxMs?: number;
  maxRetries?: number;
  /** (ours) interval = SRTT + 4 * RTTVAR, clamped to [rtoMinMs, retryMaxMs]. */
  adaptive?: boolean;
  rtoMinMs?: number;
}

export interface SenderOptions extends RetryOptions {
  initialSeq: number;
  window?: number;
  /** Bytes queued locally (beyond the window) before send() refuses. */
  maxQueueBytes?: number;
  /**
   * Server side: the first DAT goes out as DAT and RDAT at once and only RACK clears it, because
   * the handshake ACK has the same bytes as an ACK of it.
   */
  firstNeedsRack?: boolean;
}

interface InFlight {
  seq: number;
  body: Buffer;
  sentAt: number;
  retries: number;
  interval: number;
  due: number;
  needsRack: boolean;
}

export interface SenderStats {
  sent: number;
  retransmits: number;
  acked: number;
  inFlight: number;
  queued: number;
  queuedBytes: number;
}

export class ReliableSender {
  private nextSeq: number;
  private readonly inflight = new Map<number, InFlight>();
  private readonly queue: Buffer[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private first: boolean;
  private srtt = -1;
  private rttvar = 0;
  private timedOut = false;
  private readonly o: Required<Omit<SenderOptions, 'initialSeq' | 'firstNeedsRack'>>;
  readonly stats = { sent: 0, retransmits: 0, acked: 0 };

  constructor(
    opts: SenderOptions,
    private readonly emit: (datagram: Buffer) => void,
  ) {
    this.nextSeq = opts.initialSeq & 0xffffff;
    this.first = opts.firstNeedsRack === true;
    this.o = {
      retryMinMs: opts.retryMinMs ?? RUDP_RETRY_MIN_MS,
      retryMaxMs: opts.retryMaxMs ?? RUDP_RETRY_MAX_MS,
      maxRetries: opts.maxRetries ?? RUDP_MAX_RETRIES,
      adaptive: opts.adaptive ?? false,
      rtoMinMs: opts.rtoMinMs ?? RUDP_RTO_MIN_MS,
      window: opts.window ?? RUDP_SEND_WINDOW,
      maxQueueBytes: opts.maxQueueBytes ?? Number.POSITIVE_INFINITY,
    };
  }

  /** True once a DAT went unacknowledged through maxRetries resends: the connection is dead. */
  get isTimedOut(): boolean {
    return this.timedOut;
  }

  /** Nothing in flight and nothing queued. */
  get idle(): boolean {
    return this.inflight.size === 0 && this.queueHead === this.queue.length;
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  snapshot(): SenderStats {
    return {
      ...this.stats,
      inFlight: this.inflight.size,
      queued: this.queue.length - this.queueHead,
      queuedBytes: this.queuedBytes,
    };
  }

  /** Queues a body (a command packet or a chunk); false when the local queue is full. */
  send(body: Buffer, now: number): boolean {
    if (this.timedOut) return false;
    if (this.queuedBytes + body.length > this.o.maxQueueBytes && this.inflight.size >= this.o.window) return false;
    this.queue.push(body);
    this.queuedBytes += body.length;
    this.pump(now);
    return true;
  }

  /** Applies an ACK or RACK record. Unknown sequences are ignored (late or duplicate acks). */
  onAck(rec: AckRecord, now: number): boolean {
    const f = this.inflight.get(rec.seq);
    if (f === undefined) return false;
    if (f.needsRack && rec.flag !== Flag.RACK) return false;
    this.inflight.delete(rec.seq);
    this.stats.acked++;
    // Karn: only unambiguous samples (never resent) feed the RTT estimate.
    if (f.retries === 0 && !f.needsRack) this.sampleRtt(now - f.sentAt);
    this.pump(now);
    return true;
  }

  /** Resends what is due; returns false when the connection timed out. */
  tick(now: number): boolean {
    if (this.timedOut) return false;
    for (const f of this.inflight.values()) {
      if (f.due > now) continue;
      if (f.retries >= this.o.maxRetries) {
        this.timedOut = true;
        return false;
      }
      f.retries++;
      f.interval = Math.min(f.interval * 2, this.o.retryMaxMs);
      f.due = now + f.interval;
      this.stats.retransmits++;
      this.emit(encodeDatagram(f.seq, Flag.RDAT, f.body));
    }
    return true;
  }

  /** Earliest retransmit deadline, or null with nothing in flight. */
  nextDeadline(): number | null {
    let d: number | null = null;
    for (const f of this.inflight.values()) if (d === null || f.due < d) d = f.due;
    return d;
  }

  /** Drops everything unacknowledged and queued (e.g. after a migration answer proves delivery). */
  forget(): void {
    this.inflight.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytes = 0;
  }

  private initialInterval(): number {
    if (!this.o.adaptive || this.srtt < 0) return this.o.retryMinMs;
    const rto = this.srtt + 4 * this.rttvar;
    return Math.min(this.o.retryMaxMs, Math.max(this.o.rtoMinMs, rto));
  }

  private sampleRtt(rtt: number): void {
    const r = Math.max(0, rtt);
    if (this.srtt < 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
  }

  private pump(now: number): void {
    while (this.inflight.size < this.o.window && this.queueHead < this.queue.length) {
      const body = this.queue[this.queueHead];
      this.queueHead++;
      this.queuedBytes -= body.length;
      const seq = this.nextSeq;
      this.nextSeq = seqAdd(seq, 1);
      const interval = this.initialInterval();
      const needsRack = this.first;
      this.first = false;
      this.inflight.set(seq, { seq, body, sentAt: now, retries: 0, interval, due: now + interval, needsRack });
      this.stats.sent++;
      this.emit(encodeDatagram(seq, Flag.DAT, body));
      if (needsRack) this.emit(encodeDatagram(seq, Flag.RDAT, body));
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}

export type ReceiveResult =
  | { ack: AckRecord; delivered: Buffer[]; drop?: undefined }
  | { ack: AckRecord | null; delivered: Buffer[]; drop: DropReason };

/** Receiver: acks every DAT/RDAT (duplicates too), delivers bodies in order exactly once. */
export class ReliableReceiver {
  private expected: number;
  private readonly buffered = new Map<number, Buffer>();
  readonly drops = { duplicate: 0, 'out-of-window': 0 };
  delivered = 0;

  constructor(
    initialSeq: number,
    private readonly window: number = RUDP_RECEIVE_WINDOW,
  ) {
    this.expected = initialSeq & 0xffffff;
  }

  get nextExpected(): number {
    return this.expected;
  }

  get bufferedCount(): number {
    return this.buffered.size;
  }

  /** `flag` is DAT or RDAT. The body is copied when it has to wait for a gap to fill. */
  onData(seq: number, flag: typeof Flag.DAT | typeof Flag.RDAT, body: Buffer): ReceiveResult {
    const ack: AckRecord = { seq, flag: flag === Flag.DAT ? Flag.ACK : Flag.RACK };
    const d = seqDiff(seq, this.expected);
    if (d < 0) {
      this.drops.duplicate++;
      return { ack, delivered: [], drop: 'duplicate' };
    }
    if (d >= this.window) {
      // Not acked: the sender must resend it once there is room.
      this.drops['out-of-window']++;
      return { ack: null, delivered: [], drop: 'out-of-window' };
    }
    if (d > 0) {
      if (this.buffered.has(seq)) {
        this.drops.duplicate++;
        return { ack, delivered: [], drop: 'duplicate' };
      }
      this.buffered.set(seq, Buffer.from(body));
      return { ack, delivered: [] };
    }
    const delivered = [body];
    this.expected = seqAdd(this.expected, 1);
    for (;;) {
      const next = this.buffered.get(this.expected);
      if (next === undefined) break;
      this.buffered.delete(this.expected);
      delivered.push(next);
      this.expected = seqAdd(this.expected, 1);
    }
    this.delivered += delivered.length;
    return { ack, delivered };
  }
}
