/**
 * bench/migration --diag: the evidence for where a move's time goes beyond the phase medians
 * (issue 12, eighth session). Around each run it takes UDP drop counters (steady window and move
 * window, bench/lib/udp-sockets.ts), the sockets' buffer sizes, the client process's loop stalls
 * and, from the nodes' --log-diag records, theirs and their resend counters; after the run it
 * cuts the slowest moves into steps (bench/lib/move-tail.ts). Without --diag only the machine's
 * CPU over the move window is read (cheap), for the saturation figure.
 */
import * as fs from 'node:fs';
import type { NodeDiag } from '../../src/cli/node-diag';
import { startLagSampler, type LagSampler } from '../../src/cli/node-diag';
import type { PhaseLog } from '../../src/server';
import { moveBreakdowns, tailLines, tailReport, type TailReport } from './move-tail';
import type { MoveTimes } from './stream-bot';
import { udpBufferSizes, udpDelta, udpSnapshot, type UdpSnapshot } from './udp-sockets';

/** The whole machine's jiffies by kind (/proc/stat's cpu line; guest time is inside user). */
interface Jiffies { userSys: number; irq: number; steal: number; idle: number; total: number }
function machineJiffies(): Jiffies {
  try {
    const f = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
    return { userSys: user + nice + system, irq: irq + softirq, steal, idle: idle + iowait, total: f.reduce((a, x) => a + x, 0) };
  } catch {
    return { userSys: Number.NaN, irq: Number.NaN, steal: Number.NaN, idle: Number.NaN, total: Number.NaN };
  }
}

/** Shares of the machine's CPU time over a window, by kind (user + system of every process, irq + softirq, steal, idle). */
export type MachineShares = Omit<Jiffies, 'total'>;

export interface RunDiagResult {
  /** UDP counter deltas over the steady (streaming) window and over the move window. */
  udpSteady: Record<string, number>;
  udpMove: Record<string, number>;
  buffers: { node: string; client: string };
  /** The nodes' resend counters at their exit, by node id. */
  nodeSender: Record<string, Record<string, number>>;
  /** Per transport: the slowest moves against all. */
  tails: Record<string, TailReport>;
  /**
   * Every node's and the client's loop stalls of 20 ms or more inside the move window: count,
   * longest, total, the CPU the process used over them (about their length: its own work; near 0:
   * it was not running) and its GC pauses of 5 ms or more in the window.
   */
  stalls: Record<string, { count: number; longestMs: number; totalMs: number; cpuMs: number; gcMs: number }>;
}

export class RunDiag {
  private steady0: UdpSnapshot | null = null;
  private move0: UdpSnapshot | null = null;
  private steadyDelta: Record<string, number> = {};
  private moveDelta: Record<string, number> = {};
  private buffers = { node: 'n/a', client: 'n/a' };
  private readonly lag: LagSampler | null;
  private cpu0 = machineJiffies();
  private window: [number, number] = [0, 0];
  /** The machine's CPU over the move window, by kind, as shares of all its CPUs' time. */
  machine: MachineShares = { userSys: Number.NaN, irq: Number.NaN, steal: Number.NaN, idle: Number.NaN };

  constructor(readonly on: boolean, private readonly udpPorts: () => number[]) {
    this.lag = on ? startLagSampler() : null;
  }

  steadyStart(): void {
    if (this.on) this.steady0 = udpSnapshot(this.udpPorts());
  }

  /** Right before the OFFLINE call. */
  moveStart(): void {
    if (this.on) {
      this.move0 = udpSnapshot(this.udpPorts());
      if (this.steady0 !== null) this.steadyDelta = udpDelta(this.steady0, this.move0);
      this.buffers = udpBufferSizes(this.udpPorts()[0] ?? 0);
    }
    this.window[0] = performance.timeOrigin + performance.now();
    this.cpu0 = machineJiffies();
  }

  /** Once every client moved. */
  moveEnd(): void {
    const c = machineJiffies();
    const d = c.total - this.cpu0.total;
    this.machine = { userSys: (c.userSys - this.cpu0.userSys) / d, irq: (c.irq - this.cpu0.irq) / d, steal: (c.steal - this.cpu0.steal) / d, idle: (c.idle - this.cpu0.idle) / d };
    this.window[1] = performance.timeOrigin + performance.now();
    if (this.on && this.move0 !== null) this.moveDelta = udpDelta(this.move0, udpSnapshot(this.udpPorts()));
  }

  finish(log: PhaseLog, bots: Array<MoveTimes & { type: string }>, diags: Record<string, NodeDiag>, pairs: Record<string, [string, string]>, note: (s: string) => void): RunDiagResult | undefined {
    if (this.lag === null) return undefined;
    this.lag.stop();
    const client = this.lag.result().stalls;
    const tails: Record<string, TailReport> = {};
    for (const [t, [oldId, target]] of Object.entries(pairs)) {
      tails[t] = tailReport(moveBreakdowns(log, bots.filter((b) => b.type === t), diags, client, oldId, target));
    }
    const [a, b] = this.window;
    const stalls: RunDiagResult['stalls'] = {};
    const own = this.lag.result();
    for (const [id, d] of [['client', own] as const, ...Object.entries(diags)]) {
      const inside = d.stalls.filter(([end, len]) => end - len < b && end > a && len >= 20);
      const gc = (d.gc ?? []).filter(([end, len]) => end - len < b && end > a);
      stalls[id] = {
        count: inside.length, longestMs: Math.max(0, ...inside.map(([, l]) => l)), totalMs: inside.reduce((x, [, l]) => x + l, 0),
        cpuMs: inside.reduce((x, s) => x + (s[2] ?? 0), 0), gcMs: gc.reduce((x, [, l]) => x + l, 0),
      };
    }
    const r: RunDiagResult = {
      udpSteady: this.steadyDelta, udpMove: this.moveDelta, buffers: this.buffers,
      nodeSender: Object.fromEntries(Object.entries(diags).map(([k, d]) => [k, d.sender])), tails, stalls,
    };
    const kv = (o: Record<string, number>): string => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
    note(`  UDP counters, steady window: ${kv(r.udpSteady)}`);
    note(`  UDP counters, move window: ${kv(r.udpMove)}`);
    note(`  UDP socket buffers (ss skmem, bytes): node ${r.buffers.node}; a client ${r.buffers.client}`);
    for (const [id, s] of Object.entries(r.nodeSender)) note(`  ${id} RUDP sender: rtoResend ${s.rtoResend}, rackResend ${s.rackResend}, tlpResend ${s.tlpResend}, spurious ${s.spurious}, sent ${s.sent}, maxRtt ${Math.round(s.maxRttMs ?? 0)} ms; SYN lookups ${diags[id]?.node?.synLookups ?? '?'} (adopted meanwhile ${diags[id]?.node?.synLookupsAdoptedMeanwhile ?? '?'})${diags[id]?.node?.synServedAtAdoption !== undefined ? `, served at the adoption ${diags[id]?.node?.synServedAtAdoption}, ${Math.round(diags[id]?.node?.synServedEarlyMsSum ?? 0)} ms in all before their lookup's answer` : ''}`);
    note(`  loop stalls >= 20 ms in the move window: ${Object.entries(stalls).map(([k, v]) => `${k} ${v.count} (longest ${Math.round(v.longestMs)}, total ${Math.round(v.totalMs)} ms, CPU over them ${Math.round(v.cpuMs)} ms; GC ${Math.round(v.gcMs)} ms)`).join(', ')}`);
    for (const [t, rep] of Object.entries(tails)) tailLines(t, rep).forEach(note);
    return r;
  }
}
