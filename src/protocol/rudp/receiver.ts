/**
 * The receiving half of a reliable channel (PROTOCOL.md section 4): acknowledges every DAT/RDAT
 * (duplicates too), delivers bodies in order exactly once; the out-of-order buffer holds only the
 * DATs beyond a gap.
 */
import type { DropReason } from '../constants';
import { RUDP_RECEIVE_WINDOW } from '../ours';
import { AckRecord, Flag, seqAdd, seqDiff } from './datagram';

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
