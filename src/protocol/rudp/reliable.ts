/**
 * One side's reliable sender (PROTOCOL.md section 4, "Reliable delivery"), sans-I/O: bodies and
 * now(ms) in, datagrams out through `emit`, timers as a deadline (`nextDeadline`) the owner honours
 * by calling `tick(now)`. The same design as the native ReliableChannel (native/src/rudp/reliable.h):
 *  - adaptive policy: RFC 6298 RTO with Karn's rule (ACK answers the DAT, RACK an RDAT), RACK-style
 *    time-based loss detection from the selective per-DAT ACKs, a tail-loss probe, a congestion
 *    window, one timer restarted by every new acknowledgement and backed off until a valid RTT
 *    sample, timed out only after maxRetries timeouts in a row without progress;
 *  - wire policy: each DAT on its own retryMinMs, doubling to retryMaxMs schedule, dead after
 *    maxRetries resends of one DAT (the stock server's behaviour).
 * With `pack`, small bodies share a DAT up to the datagram size; a DAT that is not full waits for
 * flush(), which the owner calls at the end of its turn.
 */
import { RUDP_MAX_RETRIES, RUDP_RETRY_MAX_MS, RUDP_RETRY_MIN_MS } from '../constants';
import { RUDP_PEER_MAX_ACK_DELAY_MS, RUDP_RECEIVE_WINDOW, RUDP_RTO_MIN_MS, RUDP_SEND_WINDOW, UDP_MAX_DATAGRAM_BODY } from '../ours';
import { AckRecord, encodeDatagram, Flag, seqAdd, seqDiff, TRANSPORT_HEADER_SIZE, writeTransportHeader } from './datagram';
import { CongestionWindow, RttEstimator } from './recovery';

export { ReliableReceiver } from './receiver';
export type { ReceiveResult } from './receiver';

export interface RetryOptions {
  retryMinMs?: number;
  retryMaxMs?: number;
  maxRetries?: number;
  /** The adaptive policy (RTO from the RTT, fast retransmit, probe, congestion window); false = wire schedule. */
  adaptive?: boolean;
  rtoMinMs?: number;
}

export interface SenderOptions extends RetryOptions {
  initialSeq: number;
  /** Unacknowledged DATs in flight. */
  window?: number;
  /** The peer's receive span: a DAT goes only while seq - oldest unacknowledged < this. */
  peerWindow?: number;
  /** Bytes queued locally (beyond the window) before send() refuses. */
  maxQueueBytes?: number;
  /** Pack small bodies into one DAT up to maxDatagramBody; partial DATs wait for flush(). */
  pack?: boolean;
  maxDatagramBody?: number;
  initialCwnd?: number;
  minCwnd?: number;
  /**
   * Server side: the first DAT goes out as DAT and RDAT at once and only RACK clears it, because
   * the handshake ACK has the same bytes as an ACK of it.
   */
  firstNeedsRack?: boolean;
}

interface InFlight {
  body: Buffer;
  firstSent: number;
  lastSent: number;
  /** Wire policy: this DAT's own timer. */
  due: number;
  interval: number;
  retries: number;
  acked: boolean;
  /** Adaptive: declared lost after an RTO, waiting for the window (in the lost list). */
  lost: boolean;
  /** Its latest loss counted in a reduced episode (an undo candidate). */
  lossInEpisode: boolean;
  needsRack: boolean;
  /** Its 24-bit sequence number (RACK's tie-break). */
  seq: number;
  /**
   * Neighbours in one of two lists (adaptive only): the send-time list while outstanding (`listed`:
   * unacknowledged, not lost, by (lastSent, seq)), the lost list while waiting (`lost`, by seq).
   */
  prev: InFlight | null;
  next: InFlight | null;
  listed: boolean;
}

/** A doubly linked list through InFlight.prev/next. */
interface Chain {
  head: InFlight | null;
  tail: InFlight | null;
}

function unlink(c: Chain, f: InFlight): void {
  if (f.prev !== null) f.prev.next = f.next;
  else c.head = f.next;
  if (f.next !== null) f.next.prev = f.prev;
  else c.tail = f.prev;
  f.prev = f.next = null;
}

interface Queued {
  body: Buffer;
  solo: boolean;
}

export interface SenderStats {
  sent: number;
  retransmits: number;
  acked: number;
  inFlight: number;
  queued: number;
  queuedBytes: number;
  cwnd: number;
  srtt: number;
}

/** Process-wide sender counters by kind of resend (benchmarks read them: bench/udp --trace). */
export const senderCounters: Record<string, number> = {
  rtoEvt: 0, rtoResend: 0, tlpResend: 0, rackResend: 0, firstRack: 0, spurious: 0, rttSamples: 0, rttSampleSumMs: 0,
  maxRttMs: 0, rtoLateSumMs: 0, rtoAtFireSumMs: 0, rtoBackoff0: 0, timedOut: 0, ackRecv: 0, sent: 0,
};
const LONE_ACK_DELAY_MS = 200;

export class ReliableSender {
  private base: number;
  /** inflight[head + i] carries seq base + i. */
  private inflight: InFlight[] = [];
  private head = 0;
  private queue: Queued[] = [];
  private qHead = 0;
  private queuedBytes = 0;
  private pipe = 0;
  private lostCount = 0;
  /**
   * The DATs lost at an RTO and waiting for the window, by seq: the pump resends from its head, so
   * resending costs what is sent, not a walk of the window per ACK (RACK's losses go again at once
   * and never wait here).
   */
  private readonly lostDats: Chain = { head: null, tail: null };
  private first: boolean;
  private timedOut = false;
  private readonly rtt = new RttEstimator();
  private readonly cc: CongestionWindow;
  private rtoAt = Number.POSITIVE_INFINITY;
  private tlpAt = Number.POSITIVE_INFINITY;
  private rackAt = Number.POSITIVE_INFINITY;
  /** RTO doublings, kept until a valid RTT sample. */
  private backoff = 0;
  /** Timeouts in a row without any acknowledgement (the dead-peer judgement). */
  private timeouts = 0;
  /** Send time and seq of the latest-sent DAT acknowledged (ties: a burst shares one send time). */
  private rackXmit = Number.NEGATIVE_INFINITY;
  private rackSeq = 0;
  private rackRtt = 0;
  private reoFactor = 1;
  /** The most reordering an ACK has shown: ms late behind a DAT sent after it. */
  private reoSeen = 0;
  /**
   * The outstanding DATs (unacknowledged, not lost) ordered by (lastSent, seq), oldest first, as
   * Linux's tsorted queue: RACK's scan starts at the oldest and stops at the first DAT sent after
   * the latest acknowledged one or not yet due, so an ACK record costs O(1) amortised, not O(window).
   */
  private readonly ts: Chain = { head: null, tail: null };
  private readonly o: Required<Omit<SenderOptions, 'initialSeq' | 'firstNeedsRack'>>;
  readonly stats = { sent: 0, retransmits: 0, acked: 0 };

  constructor(
    opts: SenderOptions,
    private readonly emit: (datagram: Buffer) => void,
  ) {
    this.base = opts.initialSeq & 0xffffff;
    this.first = opts.firstNeedsRack === true;
    this.o = {
      retryMinMs: opts.retryMinMs ?? RUDP_RETRY_MIN_MS,
      retryMaxMs: Math.max(opts.retryMaxMs ?? RUDP_RETRY_MAX_MS, opts.retryMinMs ?? RUDP_RETRY_MIN_MS),
      maxRetries: opts.maxRetries ?? RUDP_MAX_RETRIES,
      adaptive: opts.adaptive ?? false,
      rtoMinMs: opts.rtoMinMs ?? RUDP_RTO_MIN_MS,
      window: Math.max(1, opts.window ?? RUDP_SEND_WINDOW),
      peerWindow: Math.max(1, opts.peerWindow ?? RUDP_RECEIVE_WINDOW),
      maxQueueBytes: opts.maxQueueBytes ?? Number.POSITIVE_INFINITY,
      pack: opts.pack ?? false,
      maxDatagramBody: opts.maxDatagramBody ?? UDP_MAX_DATAGRAM_BODY,
      initialCwnd: opts.initialCwnd ?? 64,
      minCwnd: opts.minCwnd ?? 16,
    };
    this.cc = new CongestionWindow(Math.max(1, this.o.initialCwnd), Math.max(1, Math.min(this.o.minCwnd, this.o.initialCwnd)));
  }

  /** True once the peer stopped acknowledging (see the policies above): the connection is dead. */
  get isTimedOut(): boolean {
    return this.timedOut;
  }

  /** Nothing unacknowledged and nothing queued. */
  get idle(): boolean {
    return this.unacked === 0 && this.qHead === this.queue.length;
  }

  get inFlight(): number {
    return this.unacked;
  }

  /** flush() would send something (a partly packed DAT). */
  get hasUnflushed(): boolean {
    return this.qHead < this.queue.length && this.canSendNew();
  }

  snapshot(): SenderStats {
    return {
      ...this.stats,
      inFlight: this.unacked,
      queued: this.queue.length - this.qHead,
      queuedBytes: this.queuedBytes,
      cwnd: this.cc.window,
      srtt: this.rtt.srtt,
    };
  }

  /** An RTT measured outside (the handshake), used until DATs give samples. */
  seedRtt(ms: number): void {
    if (!this.rtt.hasSample) this.rtt.sample(ms);
  }

  /** Queues a body (command packets or a chunk); `solo` bodies get a DAT of their own. false when the local queue is full. */
  send(body: Buffer, now: number, solo = false): boolean {
    if (this.timedOut) return false;
    if (this.queuedBytes + body.length > this.o.maxQueueBytes && this.unacked >= this.o.window) return false;
    this.queue.push({ body, solo });
    this.queuedBytes += body.length;
    this.pump(now, !this.o.pack);
    return true;
  }

  /** The end of the owner's turn: a partly packed DAT goes too. */
  flush(now: number): void {
    this.pump(now, true);
  }

  /** Applies an ACK or RACK record; true when it acknowledged something new. */
  onAck(rec: AckRecord, now: number): boolean {
    const d = seqDiff(rec.seq, this.base);
    const f = d >= 0 ? this.inflight[this.head + d] : undefined;
    if (f === undefined || f.acked) return false;
    if (f.needsRack && rec.flag !== Flag.RACK) return false;
    senderCounters.ackRecv++;
    if (rec.flag !== Flag.RACK && f.retries > 0) senderCounters.spurious++;
    f.acked = true;
    if (f.lost) this.unlistLost(f);
    else {
      this.unlist(f);
      this.pipe--;
    }
    this.stats.acked++;
    const rack = rec.flag === Flag.RACK;
    const xmit = rack ? f.lastSent : f.firstSent;
    // Karn's rule, exact by the flag: ACK answers the DAT (also a resent one: a late ACK of the
    // original is the round trip a stalled peer really took, the sample that stops spurious RTOs),
    // RACK an RDAT (unambiguous only if one).
    const sampled = !f.needsRack && (!rack || f.retries === 1);
    if (sampled) {
      senderCounters.rttSamples++;
      senderCounters.rttSampleSumMs += now - xmit;
      senderCounters.maxRttMs = Math.max(senderCounters.maxRttMs, now - xmit);
      this.rtt.sample(now - xmit);
      this.cc.onRtt(now - xmit, now, this.rtt.srtt);
    }
    // The original arrived after we resent it: the reorder window was too small.
    const spurious = !rack && f.retries > 0;
    if (spurious && this.reoFactor < 16) this.reoFactor *= 2;
    if (this.o.adaptive) {
      if (spurious) this.cc.onSpurious(f.lossInEpisode);
      this.cc.onAcked(xmit);
      if (this.rackXmit !== Number.NEGATIVE_INFINITY && !this.sentAfterRack(xmit, rec.seq)) {
        // Delivered behind a DAT sent after it: reordering, by this much beyond that DAT's RTT.
        this.reoSeen = Math.max(this.reoSeen, now - xmit - this.rackRtt);
      } else {
        this.rackXmit = xmit;
        this.rackSeq = rec.seq;
        this.rackRtt = now - xmit;
      }
      this.timeouts = 0;
      // The backed-off RTO stays until a valid RTT sample (RFC 6298 section 5).
      if (sampled) this.backoff = 0;
    }
    f.body = EMPTY;
    while (this.head < this.inflight.length && this.inflight[this.head].acked) {
      this.head++;
      this.base = seqAdd(this.base, 1);
    }
    if (this.head > 256 && this.head * 2 > this.inflight.length) {
      this.inflight = this.inflight.slice(this.head);
      this.head = 0;
    }
    if (this.o.adaptive) {
      this.rtoAt = this.tlpAt = Number.POSITIVE_INFINITY;
      this.detectLosses(now);
    }
    this.pump(now, !this.o.pack);
    return true;
  }

  /** Resends what is due; returns false when the connection timed out. */
  tick(now: number): boolean {
    if (this.timedOut) return false;
    if (!this.o.adaptive) return this.wireTick(now);
    if (now >= this.rackAt) this.detectLosses(now);
    if (now >= this.rtoAt) this.onRto(now);
    else if (now >= this.tlpAt) this.probe(now);
    if (this.timedOut) return false;
    this.pump(now, !this.o.pack);
    return true;
  }

  /** Earliest timer, or null with nothing in flight. */
  nextDeadline(): number | null {
    if (this.timedOut || this.unacked === 0) return null;
    if (this.o.adaptive) return Math.min(this.rtoAt, this.tlpAt, this.rackAt);
    let d: number | null = null;
    for (let i = this.head; i < this.inflight.length; i++) {
      const f = this.inflight[i];
      if (!f.acked && (d === null || f.due < d)) d = f.due;
    }
    return d;
  }

  /** Drops everything unacknowledged and queued (e.g. after a migration answer proves delivery). */
  forget(): void {
    this.base = seqAdd(this.base, this.inflight.length - this.head);
    this.inflight = [];
    this.head = 0;
    this.queue = [];
    this.qHead = 0;
    this.queuedBytes = 0;
    this.pipe = this.lostCount = 0;
    this.ts.head = this.ts.tail = this.lostDats.head = this.lostDats.tail = null;
    this.rtoAt = this.tlpAt = this.rackAt = Number.POSITIVE_INFINITY;
  }

  // ---------------------------------------------------------------- sending

  private get unacked(): number {
    return this.pipe + this.lostCount;
  }

  private canSendNew(): boolean {
    if (this.timedOut || this.unacked >= this.o.window) return false;
    if (this.inflight.length - this.head >= this.o.peerWindow) return false;
    return !this.o.adaptive || this.pipe < this.cc.window;
  }

  private baseRto(): number {
    return this.o.adaptive ? this.rtt.rto(this.o.rtoMinMs, this.o.retryMaxMs, this.o.retryMinMs) : this.o.retryMinMs;
  }

  private pump(now: number, flush: boolean): void {
    if (this.timedOut) return;
    if (this.lostCount > 0 && this.pipe < this.cc.window) this.resendLost(now);
    while (this.qHead < this.queue.length && this.canSendNew()) {
      if (!this.sendNew(now, flush)) break;
    }
    if (this.qHead > 1024 && this.qHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qHead);
      this.qHead = 0;
    }
    if (this.o.adaptive) this.armTimers(now);
  }

  private sendNew(now: number, flush: boolean): boolean {
    let n = 1;
    let total = this.queue[this.qHead].body.length;
    if (this.o.pack && !this.queue[this.qHead].solo) {
      for (let i = this.qHead + 1; i < this.queue.length; i++) {
        const q = this.queue[i];
        if (q.solo || total + q.body.length > this.o.maxDatagramBody) break;
        total += q.body.length;
        n++;
      }
      if (this.qHead + n === this.queue.length && !flush) return false;
    }
    const seq = seqAdd(this.base, this.inflight.length - this.head);
    // The bodies go straight into the datagram; the in-flight body is a view of it (one copy per DAT).
    const datagram = Buffer.allocUnsafe(TRANSPORT_HEADER_SIZE + total);
    writeTransportHeader(datagram, 0, seq, Flag.DAT);
    for (let i = 0, o = TRANSPORT_HEADER_SIZE; i < n; i++) {
      const q = this.queue[this.qHead + i].body;
      datagram.set(q, o);
      o += q.length;
      this.queue[this.qHead + i] = DONE;
    }
    this.qHead += n;
    this.queuedBytes -= total;
    const body = datagram.subarray(TRANSPORT_HEADER_SIZE);
    const interval = this.baseRto();
    const needsRack = this.first;
    this.first = false;
    const f: InFlight = { body, firstSent: now, lastSent: now, due: now + interval, interval, retries: 0, acked: false, lost: false, lossInEpisode: false, needsRack, seq, prev: null, next: null, listed: false };
    this.inflight.push(f);
    if (this.o.adaptive) this.enlist(f);
    this.pipe++;
    this.stats.sent++;
    senderCounters.sent++;
    this.emit(datagram);
    if (needsRack) senderCounters.firstRack++;
    if (needsRack) this.emit(encodeDatagram(seq, Flag.RDAT, body));
    return true;
  }

  /** Lost DATs in sequence order from the oldest, while the window allows (the lost list's head). */
  private resendLost(now: number): void {
    while (this.lostDats.head !== null && this.pipe < this.cc.window) {
      senderCounters.rtoResend++;
      this.resend(this.head + seqDiff(this.lostDats.head.seq, this.base), now);
    }
  }

  private resend(i: number, now: number): void {
    const f = this.inflight[i];
    if (f.lost) {
      this.unlistLost(f);
      this.pipe++;
    }
    f.retries++;
    f.lastSent = now;
    if (this.o.adaptive) {
      this.unlist(f);
      this.enlist(f);
    }
    this.stats.retransmits++;
    this.emit(encodeDatagram(seqAdd(this.base, i - this.head), Flag.RDAT, f.body));
  }

  // ---------------------------------------------------------------- timers

  private wireTick(now: number): boolean {
    for (let i = this.head; i < this.inflight.length; i++) {
      const f = this.inflight[i];
      if (f.acked || f.due > now) continue;
      if (f.retries >= this.o.maxRetries) {
        this.timedOut = true;
        return false;
      }
      f.interval = Math.min(f.interval * 2, this.o.retryMaxMs);
      f.due = now + f.interval;
      this.resend(i, now);
    }
    return true;
  }

  private currentRto(): number {
    return Math.min(this.o.retryMaxMs, this.baseRto() * 2 ** Math.min(this.backoff, 16));
  }

  /** RFC 8985 RACK_sent_after: later in time, or at the same time later in sequence. */
  private sentAfterRack(sentAt: number, seq: number): boolean {
    return sentAt > this.rackXmit || (sentAt === this.rackXmit && seqDiff(seq, this.rackSeq) > 0);
  }

  /**
   * RFC 8985's reorder window, min RTT / 4 (times reoFactor after spurious resends), and at least
   * the reordering ACKs have shown (a path with jitter reorders without loss), capped at the SRTT.
   */
  private reorderWindow(): number {
    return Math.min(this.rtt.srtt, Math.max((this.reoFactor * this.rtt.minRtt) / 4, this.reoSeen));
  }

  /**
   * RFC 8985: lost once a DAT sent after it was acknowledged and a reorder window has passed. The
   * send-time list is walked from its oldest: the due times grow along it, and so does "sent after
   * the RACK DAT", so the walk stops at the first DAT that is not lost. The lost ones are marked and
   * resent in sequence order, as a scan of the whole window would.
   */
  private detectLosses(now: number): void {
    this.rackAt = Number.POSITIVE_INFINITY;
    if (this.rackXmit === Number.NEGATIVE_INFINITY) return;
    const reo = this.reorderWindow();
    let lost: InFlight[] | null = null;
    for (let f = this.ts.head; f !== null; f = f.next) {
      if (this.sentAfterRack(f.lastSent, f.seq)) break;
      const due = f.lastSent + this.rackRtt + reo;
      if (now < due) {
        this.rackAt = due;
        break;
      }
      (lost ??= []).push(f);
    }
    if (lost === null) return;
    if (lost.length > 1) lost.sort((a, b) => seqDiff(a.seq, b.seq));
    for (const f of lost) {
      // Resent at once: the lost copy left the network, so the number in flight stays.
      this.noteLoss(f, now);
      senderCounters.rackResend++;
      this.resend(this.head + seqDiff(f.seq, this.base), now);
    }
  }

  /** Into the send-time list, after every DAT sent earlier (or at the same time with a lower seq). */
  private enlist(f: InFlight): void {
    let after = this.ts.tail;
    while (after !== null && (after.lastSent > f.lastSent || (after.lastSent === f.lastSent && seqDiff(after.seq, f.seq) > 0))) after = after.prev;
    f.prev = after;
    f.next = after === null ? this.ts.head : after.next;
    if (f.next !== null) f.next.prev = f;
    else this.ts.tail = f;
    if (after !== null) after.next = f;
    else this.ts.head = f;
    f.listed = true;
  }

  private unlist(f: InFlight): void {
    if (!f.listed) return;
    unlink(this.ts, f);
    f.listed = false;
  }

  /** Out of the send-time list, counted in the congestion response (RACK resends it at once). */
  private noteLoss(f: InFlight, now: number): void {
    this.unlist(f);
    f.lossInEpisode = this.cc.onLoss(f.lastSent, now, this.rtt.minRtt);
  }

  /** At the lost list's tail (the caller goes in seq order), out of the pipe until resent. */
  private enlistLost(f: InFlight): void {
    f.lost = true;
    f.prev = this.lostDats.tail;
    f.next = null;
    if (this.lostDats.tail !== null) this.lostDats.tail.next = f;
    else this.lostDats.head = f;
    this.lostDats.tail = f;
    this.lostCount++;
  }

  private unlistLost(f: InFlight): void {
    unlink(this.lostDats, f);
    f.lost = false;
    this.lostCount--;
  }

  private armTimers(now: number): void {
    if (this.unacked === 0) {
      this.rtoAt = this.tlpAt = this.rackAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (this.rtoAt === Number.POSITIVE_INFINITY) this.rtoAt = now + this.currentRto();
    if (this.tlpAt === Number.POSITIVE_INFINITY && this.backoff === 0 && this.rtt.hasSample) {
      // RFC 8985: with one DAT in flight its ACK may be a busy peer's delayed one: wait longer.
      const pto = Math.max(2 * this.rtt.srtt + (this.unacked === 1 ? LONE_ACK_DELAY_MS : RUDP_PEER_MAX_ACK_DELAY_MS), 10);
      if (now + pto < this.rtoAt) this.tlpAt = now + pto;
    }
  }

  /** Tail-loss probe: the newest unacknowledged DAT again, once per quiet period. */
  private probe(now: number): void {
    for (let i = this.inflight.length - 1; i >= this.head; i--) {
      const f = this.inflight[i];
      if (f.acked) continue;
      if (!f.lost) {
        senderCounters.tlpResend++;
        this.resend(i, now);
      }
      break;
    }
    this.rtoAt = now + this.currentRto();
    this.tlpAt = this.rtoAt;
  }

  /** No progress for an RTO: all outstanding presumed lost, window to one DAT (only the oldest goes again), timer backed off. */
  private onRto(now: number): void {
    senderCounters.rtoEvt++;
    senderCounters.rtoLateSumMs += now - this.rtoAt;
    senderCounters.rtoAtFireSumMs += this.currentRto();
    if (this.backoff === 0) senderCounters.rtoBackoff0++;
    if (this.timeouts >= this.o.maxRetries) {
      senderCounters.timedOut++;
      this.timedOut = true;
      return;
    }
    this.timeouts++;
    this.backoff++;
    // Every unacknowledged DAT is lost now: the lost list is rebuilt in seq order, those still
    // waiting from an earlier RTO included (one pass over the window, per RTO).
    this.lostDats.head = this.lostDats.tail = null;
    this.lostCount = 0;
    for (let i = this.head; i < this.inflight.length; i++) {
      const f = this.inflight[i];
      if (f.acked) continue;
      if (!f.lost) {
        this.noteLoss(f, now);
        this.pipe--;
      }
      this.enlistLost(f);
    }
    this.cc.onRto(now);
    this.rtoAt = now + this.currentRto();
    this.tlpAt = this.rtoAt;
  }
}

const EMPTY = Buffer.alloc(0);
const DONE: Queued = { body: EMPTY, solo: false };
