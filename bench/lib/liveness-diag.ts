// --trace, issue 10: why a session of the swarm ended with "no echo answer". Once a second
// each client's datagram counters are sampled; at such a disconnect the client's last
// echo, last datagram received and sent (1 s resolution) and its resends are kept, so
// a peer truly silent for the echo timeout can be told from one whose answers came but
// did not count, or from a client that sent nothing.
import type { UdpClient } from '../../src/client';

interface Track { lastEcho: number; lastRtt: number; lastRecv: number; lastSent: number; recv: number; sent: number; connectedAt: number }

export interface SilentSession {
  ageS: number; sinceEchoS: number; lastEchoRttMs: number; sinceRecvS: number; sinceSentS: number;
  retransmits: number; packetsSent: number; packetsReceived: number; drops: Record<string, number>;
}

export class LivenessDiag {
  private readonly tracks = new Map<UdpClient, Track>();
  readonly silent: SilentSession[] = [];
  private rtts: number[] = [];  // echo round trips since the last sampleAll
  /** Where the connect phase goes: the entry's HTTP answer and the UDP handshake, per client (ms). */
  readonly endpointMs: number[] = [];
  readonly handshakeMs: number[] = [];

  watch(c: UdpClient): void {
    const now = performance.now();
    const t: Track = { lastEcho: now, lastRtt: Number.NaN, lastRecv: now, lastSent: now, recv: 0, sent: 0, connectedAt: now };
    this.tracks.set(c, t);
    c.on('echo', (rttMs: number) => {
      t.lastEcho = performance.now();
      t.lastRtt = rttMs;
      this.rtts.push(rttMs);
    });
    c.on('disconnect', (_code: string, message: string) => {
      if (message !== 'no echo answer') return;
      const s = c.stats();
      const at = performance.now();
      this.sample(c, t, at);
      const sec = (x: number): number => Math.round((at - x) / 100) / 10;
      this.silent.push({
        ageS: sec(t.connectedAt), sinceEchoS: sec(t.lastEcho), lastEchoRttMs: Math.round(t.lastRtt), sinceRecvS: sec(t.lastRecv), sinceSentS: sec(t.lastSent),
        retransmits: s.retransmits, packetsSent: s.packetsSent, packetsReceived: s.packetsReceived, drops: s.drops,
      });
    });
  }

  /** Once a second (the trace's interval): the echo round trips of that second, for the trace line. */
  sampleAll(): string {
    const now = performance.now();
    for (const [c, t] of this.tracks) this.sample(c, t, now);
    const r = this.rtts.sort((a, b) => a - b);
    this.rtts = [];
    if (r.length === 0) return 'echoRtt -';
    return `echoRtt n=${r.length} p50=${Math.round(r[r.length >> 1])} max=${Math.round(r[r.length - 1])} silent=${this.silent.length}`;
  }

  private sample(c: UdpClient, t: Track, now: number): void {
    const s = c.stats();
    if (s.packetsReceived !== t.recv) { t.recv = s.packetsReceived; t.lastRecv = now; }
    if (s.packetsSent !== t.sent) { t.sent = s.packetsSent; t.lastSent = now; }
  }

  /** Medians and spreads of the silent sessions, plus the first few in full. */
  summary(): Record<string, unknown> {
    const q = (k: keyof SilentSession): string => spread(this.silent.map((s) => s[k] as number));
    return {
      count: this.silent.length,
      sinceEchoS: q('sinceEchoS'), lastEchoRttMs: q('lastEchoRttMs'), sinceRecvS: q('sinceRecvS'), sinceSentS: q('sinceSentS'),
      retransmits: q('retransmits'), ageS: q('ageS'),
      endpointMs: spread(this.endpointMs), handshakeMs: spread(this.handshakeMs),
      first: this.silent.slice(0, 3),
    };
  }
}

function spread(values: number[]): string {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return '-';
  const at = (p: number): number => Math.round(v[Math.min(v.length - 1, Math.floor(p * v.length))] * 10) / 10;
  return `n ${v.length} min ${at(0)} p50 ${at(0.5)} p90 ${at(0.9)} p99 ${at(0.99)} max ${at(1)}`;
}
