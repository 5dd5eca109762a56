/**
 * Loss-recovery state of the adaptive sender, the same design as native/src/rudp/recovery.h: the
 * RFC 6298 RTT estimator and a DAT-counted congestion window (NewReno growth, reduced once per
 * loss episode and only for loss that looks like congestion).
 */
export class RttEstimator {
  private have = false;
  srtt = 0;
  rttvar = 0;
  private min = Number.POSITIVE_INFINITY;

  get hasSample(): boolean {
    return this.have;
  }

  get minRtt(): number {
    return this.have ? this.min : 0;
  }

  sample(rtt: number): void {
    if (!(rtt >= 0) || !Number.isFinite(rtt)) return;
    this.min = Math.min(this.min, rtt);
    if (!this.have) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
      this.have = true;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
    this.srtt = 0.875 * this.srtt + 0.125 * rtt;
  }

  /** RFC 6298 (2.2)/(2.3), 1 ms granularity, clamped; `initial` before any sample. */
  rto(minMs: number, maxMs: number, initial: number): number {
    const v = this.have ? this.srtt + Math.max(1, 4 * this.rttvar) : initial;
    return Math.min(maxMs, Math.max(minMs, v));
  }
}

const CWND_MAX = 4096;
const LOSS_GAIN = 1 / 16;
/** Over half the recent DATs (or their ACKs) lost: not a lossy link but an overrun. */
const OVERRUN_LOSS = 0.5;

/**
 * NewReno growth; a loss episode reduces (halves) once, and only when the loss looks like
 * congestion: the RTT floor of the last round rose above the path minimum (a queue is building) or
 * most recent DATs were lost (an overrun). Random loss without queueing leaves the window alone.
 */
export class CongestionWindow {
  private ssthresh = Number.POSITIVE_INFINITY;
  private recoveryStart = Number.NEGATIVE_INFINITY;
  private loss = 0;
  private afterRto = false;
  private roundEnd = Number.NEGATIVE_INFINITY;
  private roundMin = 0;
  private lastRoundMin = 0;
  /** The reduced episode: its losses not yet proved spurious, and what to restore. */
  private undoLosses = 0;
  private priorWindow = 0;
  private priorSsthresh = Number.POSITIVE_INFINITY;

  constructor(
    public window: number,
    private readonly floor: number,
  ) {}

  get lossRate(): number {
    return this.loss;
  }

  inRecovery(sentAt: number): boolean {
    return sentAt <= this.recoveryStart;
  }

  onRtt(rtt: number, now: number, srtt: number): void {
    if (now >= this.roundEnd) {
      this.lastRoundMin = this.roundMin;
      this.roundMin = rtt;
      this.roundEnd = now + Math.max(srtt, 1);
    } else {
      this.roundMin = Math.min(this.roundMin, rtt);
    }
  }

  onAcked(sentAt: number): void {
    this.loss *= 1 - LOSS_GAIN;
    // No growth for DATs sent before a reduction, except in the slow start after an RTO.
    if (this.inRecovery(sentAt) && !(this.afterRto && this.window < this.ssthresh)) return;
    this.window += this.window < this.ssthresh ? 1 : 1 / this.window;
    this.window = Math.min(this.window, CWND_MAX);
  }

  /** A DAT sent at `sentAt` was declared lost; true when the loss belongs to the reduced episode (undo). */
  onLoss(sentAt: number, now: number, minRtt: number): boolean {
    this.loss = this.loss * (1 - LOSS_GAIN) + LOSS_GAIN;
    if (this.inRecovery(sentAt)) {
      if (this.undoLosses > 0) this.undoLosses++;
      return this.undoLosses > 0;
    }
    const queueing = this.lastRoundMin - minRtt > Math.max(5, minRtt / 2);
    if (!queueing && this.loss < OVERRUN_LOSS) return false;
    this.priorWindow = this.window;
    this.priorSsthresh = this.ssthresh;
    this.undoLosses = 1;
    this.recoveryStart = now;
    this.afterRto = false;
    this.window = Math.max(this.floor, this.window / 2);
    this.ssthresh = this.window;
    return true;
  }

  /**
   * The original of a DAT declared lost was acknowledged (reordering, not loss): its share of the
   * loss rate goes, and once every loss of the reduced episode proved spurious the reduction is
   * undone (RFC 8985 with DSACK, Linux's undo, the Eifel idea of RFC 3522).
   */
  onSpurious(inEpisode: boolean): void {
    this.loss = Math.max(0, this.loss - LOSS_GAIN);
    if (!inEpisode || this.undoLosses === 0 || --this.undoLosses > 0) return;
    this.window = Math.max(this.window, this.priorWindow);
    this.ssthresh = this.priorSsthresh;
    this.recoveryStart = Number.NEGATIVE_INFINITY;
  }

  /** RFC 5681's loss window: one DAT, then slow start to half the old window. */
  onRto(now: number): void {
    this.undoLosses = 0;
    this.recoveryStart = now;
    this.afterRto = true;
    this.ssthresh = Math.max(this.floor, this.window / 2);
    this.window = 1;
  }
}
