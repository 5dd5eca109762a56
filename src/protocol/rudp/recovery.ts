/**
 * Loss-recovery state of the adaptive sender, the same design as native/src/rudp/recovery.h: the
 * RFC 6298 RTT estimator and a DAT-counted congestion window (NewReno growth, TCP Veno's split
 * between random and congestive loss, one reduction per loss episode).
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

export class CongestionWindow {
  private ssthresh = Number.POSITIVE_INFINITY;
  private recoveryStart = Number.NEGATIVE_INFINITY;

  constructor(
    public window: number,
    private readonly floor: number,
  ) {}

  inRecovery(sentAt: number): boolean {
    return sentAt <= this.recoveryStart;
  }

  onAcked(sentAt: number): void {
    if (this.inRecovery(sentAt)) return;
    this.window += this.window < this.ssthresh ? 1 : 1 / this.window;
    this.window = Math.min(this.window, CWND_MAX);
  }

  onLoss(sentAt: number, now: number, srtt: number, minRtt: number): void {
    if (this.inRecovery(sentAt)) return;
    this.recoveryStart = now;
    const backlog = srtt > 0 ? (this.window * (srtt - minRtt)) / srtt : 0;
    this.window = Math.max(this.floor, this.window * (backlog < 3 ? 0.8 : 0.5));
    this.ssthresh = this.window;
  }

  onRto(now: number): void {
    this.recoveryStart = now;
    this.ssthresh = Math.max(this.floor, this.window / 2);
    this.window = this.floor;
  }
}
