/**
 * What a run put on the wire, seen at the fault proxy (before its faults): RUDP datagrams by kind
 * (PROTOCOL.md section 4: seq:uint24 LE || flag:uint8), DAT fill, ACK records per ACK datagram, the
 * timeline and the DATs in flight over time (sent through the proxy, their ACK record not yet seen
 * coming back: the sender's window as the path sees it). bench/udp-loss --census prints it.
 */
import type { Direction } from '../../test/helpers/udp-proxy';

const FLAG = { UDP: 1, SYN: 2, DAT: 3, ACK: 4, RDAT: 5, RACK: 6, FIN: 7 } as const;
const MAX_BODY = 1400;
const RECORD = { toServer: 20, toClient: 4 } as const;

interface Seen {
  t: number;
  flag: number;
  seq: number;
  len: number;
  /** ACK/RACK datagrams: the seqs of their records. */
  acks?: number[];
}

export interface DirectionCensus {
  dats: number;
  rdats: number;
  /** Mean DAT body / 1400 (first sends only). */
  fill: number;
  /** DATs at least 90 % full. */
  fullDats: number;
  ackDatagrams: number;
  ackRecords: number;
  other: number;
  /** Most DATs in flight at once, and a sample every `step` ms from the first DAT of the run. */
  maxInFlight: number;
  inFlight: number[];
  /** DATs (first sends) and RDATs per `step` ms from the first DAT of the run. */
  datsPerStep: number[];
  rdatsPerStep: number[];
  firstDatMs: number;
  lastDatMs: number;
  /** The DATs acknowledged last: 'seq: D<ms>,R<ms>... -> ack <ms>' (what held the stream up). */
  slowest: string[];
  /**
   * Per RDAT, as the proxy saw them: ms from its DAT to the first ACK/RACK record for it coming
   * back, and from the RDAT to that record (negative: the record had passed the proxy before the
   * resend left; null: never acknowledged). udp-loss classifies them with the path's delays.
   */
  resends: { ackAfterDat: number | null; ackAfterResend: number | null }[];
}

export interface Census {
  step: number;
  toServer: DirectionCensus;
  toClient: DirectionCensus;
}

export class WireCensus {
  private readonly seen: Record<Direction, Seen[]> = { toServer: [], toClient: [] };
  private t0 = 0;
  private on = false;

  /** The proxy's tap: call for every datagram it receives. */
  readonly tap = (dir: Direction, msg: Buffer): void => {
    if (!this.on || msg.length < 4) return;
    const s: Seen = { t: performance.now() - this.t0, flag: msg[3], seq: msg[0] | (msg[1] << 8) | (msg[2] << 16), len: msg.length };
    if (s.flag === FLAG.ACK || s.flag === FLAG.RACK) {
      s.acks = [];
      for (let o = 0; o + 4 <= msg.length; o += RECORD[dir]) s.acks.push(msg[o] | (msg[o + 1] << 8) | (msg[o + 2] << 16));
    }
    this.seen[dir].push(s);
  };

  /** Starts counting (after the handshake). */
  start(): void {
    this.seen.toServer = [];
    this.seen.toClient = [];
    this.t0 = performance.now();
    this.on = true;
  }

  summary(step = 25): Census {
    this.on = false;
    const t0 = Math.min(...(['toServer', 'toClient'] as const).map((d) => this.seen[d].find((s) => s.flag === FLAG.DAT)?.t ?? Infinity));
    return { step, toServer: this.direction('toServer', 'toClient', t0, step), toClient: this.direction('toClient', 'toServer', t0, step) };
  }

  private direction(dir: Direction, back: Direction, t0: number, step: number): DirectionCensus {
    const out = this.seen[dir];
    const c: DirectionCensus = { dats: 0, rdats: 0, fill: 0, fullDats: 0, ackDatagrams: 0, ackRecords: 0, other: 0, maxInFlight: 0, inFlight: [], datsPerStep: [], rdatsPerStep: [], firstDatMs: Infinity, lastDatMs: 0, slowest: [], resends: [] };
    let bodies = 0;
    for (const s of out) {
      if (s.flag === FLAG.DAT || s.flag === FLAG.RDAT) {
        const bin = Math.max(0, Math.floor((s.t - t0) / step));
        const series = s.flag === FLAG.DAT ? c.datsPerStep : c.rdatsPerStep;
        while (c.datsPerStep.length <= bin) c.datsPerStep.push(0);
        while (c.rdatsPerStep.length <= bin) c.rdatsPerStep.push(0);
        series[bin]++;
        if (s.flag === FLAG.DAT) {
          c.dats++;
          bodies += s.len - 4;
          if (s.len - 4 >= 0.9 * MAX_BODY) c.fullDats++;
        } else c.rdats++;
        c.firstDatMs = Math.min(c.firstDatMs, s.t - t0);
        c.lastDatMs = Math.max(c.lastDatMs, s.t - t0);
      } else if (s.flag === FLAG.ACK || s.flag === FLAG.RACK) {
        c.ackDatagrams++;
        c.ackRecords += Math.floor(s.len / RECORD[dir]);
      } else c.other++;
    }
    c.fill = c.dats === 0 ? 0 : bodies / c.dats / MAX_BODY;
    // In flight: DAT seqs sent this way minus the ACK records for them seen coming back, in time order.
    const events = [...out.filter((s) => s.flag === FLAG.DAT), ...this.seen[back].filter((s) => s.acks !== undefined)].sort((a, b) => a.t - b.t);
    const open = new Set<number>();
    let next = t0;
    for (const e of events) {
      for (; e.t >= next; next += step) c.inFlight.push(open.size);
      if (e.acks === undefined) open.add(e.seq);
      else for (const seq of e.acks) open.delete(seq);
      c.maxInFlight = Math.max(c.maxInFlight, open.size);
    }
    c.slowest = slowest(out, this.seen[back], t0);
    c.resends = resends(out, this.seen[back]);
    return c;
  }
}

function firstAcks(back: Seen[]): Map<number, number> {
  const ackAt = new Map<number, number>();
  for (const x of back) for (const q of x.acks ?? []) if (!ackAt.has(q)) ackAt.set(q, x.t);
  return ackAt;
}

function resends(out: Seen[], back: Seen[]): DirectionCensus['resends'] {
  const datAt = new Map<number, number>();
  for (const x of out) if (x.flag === FLAG.DAT && !datAt.has(x.seq)) datAt.set(x.seq, x.t);
  const ackAt = firstAcks(back);
  return out
    .filter((x) => x.flag === FLAG.RDAT)
    .map((x) => {
      const a = ackAt.get(x.seq);
      const d = datAt.get(x.seq);
      return { ackAfterDat: a === undefined || d === undefined ? null : a - d, ackAfterResend: a === undefined ? null : a - x.t };
    });
}

function slowest(out: Seen[], back: Seen[], t0: number, n = 3): string[] {
  const sends = new Map<number, string[]>();
  for (const x of out) {
    if (x.flag !== FLAG.DAT && x.flag !== FLAG.RDAT) continue;
    const list = sends.get(x.seq) ?? [];
    list.push(`${x.flag === FLAG.DAT ? 'D' : 'R'}${(x.t - t0).toFixed(0)}`);
    sends.set(x.seq, list);
  }
  const ackAt = firstAcks(back);
  return [...sends.keys()]
    .map((q) => ({ q, a: (ackAt.get(q) ?? Infinity) - t0 }))
    .sort((a, b) => b.a - a.a)
    .slice(0, n)
    .map((r) => `${r.q}: ${sends.get(r.q)?.join(',')} -> ack ${r.a.toFixed(0)}`);
}
