/**
 * One run of bench/migration: N UDP + N TCP clients stream on one node of each type, the other
 * node of each type joins (processes) or turns ONLINE (in-process), then the loaded nodes go
 * OFFLINE together and every client moves, by live migration or by reconnecting.
 */
import * as fs from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { BotType } from '../../src/cli/bot';
import { pacingTimelines, timelineLines, type PacingTimeline } from './pacing-timeline';
import { PhaseLog, type MigrationPhaseEvent, type PhaseBreakdown } from '../../src/server';
import { startClusterChild } from './cluster-process';
import { runMigrationBot } from './migration-bot';
import { ProcessCluster } from './process-cluster';
import { runReconnectBot } from './reconnect-bot';
import type { MoveTimes } from './stream-bot';
import { RunDiag, type MachineShares, type RunDiagResult } from './migration-diag';
import type { NodeDiag } from '../../src/cli/node-diag';
import { percentile } from './stats';
import { HOLD_USERS, processRegistry, warmUp, type Registry, type WarmUpResult } from './warm-up';

export type Path = 'migration' | 'reconnect';
export type Mode = 'processes' | 'in-process';
export const TYPES: BotType[] = ['UDP', 'TCP'];
const OLD: Record<BotType, string> = { UDP: 'udp-1', TCP: 'tcp-1' };
const NEW: Record<BotType, string> = { UDP: 'udp-2', TCP: 'tcp-2' };
/** Streaming before the move (offered vs delivered is measured over it) and after. */
const STEADY_MS = 2000;
const AFTER_MS = 1000;
/** A path that never completes is reported (moved < clients), not waited for. */
const MOVE_DEADLINE_MS = 60_000;

export interface RunSpec {
  mode: Mode;
  path: Path;
  clients: number;
  intervalMs: number;
  window: number;
  connectRate: number;
  redisUrl: string;
  /** The Redis server's pid (its CPU is reported beside the nodes'); 0 = not measured. */
  redisPid?: number;
  prefix: string;
  nodeFlags: string[];
  /** In-process: the TCP nodes' extra claim listeners (undefined: the default). */
  claimListeners?: number;
  /** In-process: sockets per UDP node (undefined: the default). */
  udpSockets?: number;
  /** Processes: each node's `--extra-ports` (undefined: the node's default, 0). */
  extraPorts?: number;
  /** The nodes' offline-notice pacing: 'on' (their default), 'off', or a window. */
  pacing: string;
  /** Drops, buffers, loop stalls and the slowest moves' steps (bench/lib/migration-diag.ts; processes mode). */
  diag?: boolean;
  /**
   * Warm-up clients per transport (bench/lib/warm-up.ts; 0 or undefined: none, the nodes are fresh
   * processes). The targets are up (ONLINE) from the start, and kept from the entry while the
   * measured clients connect.
   */
  warm?: number;
}

/** Moves per warm-up client (migration: there and back, so each node acts as old node and as target). */
export const WARM_MOVES = 2;

/** The warm-up as recorded: its size, duration and what each node ran. */
export type WarmUpRecord = Omit<WarmUpResult, 'sids'> & {
  /** Per node id: migration: warm-up moves it started as old node and claims it checked as target; reconnect: sessions opened on it. */
  byNode: Record<string, { asOld?: number; asTarget?: number; sessions?: number }>;
};

/** `--pacing` values as node options (undefined: the default). */
export function pacingOption(p: string): number | false | { window: number; drainMs: number } | undefined {
  if (p === 'on') return undefined;
  if (p === 'off') return false;
  const [w = '', d] = p.split('/');
  const n = Number(w);
  const ms = Number(d);
  if (!Number.isInteger(n) || n <= 0 || (d !== undefined && !(ms > 0))) throw new RangeError(`--pacing: on, off, a window or window/drainMs, not ${p}`);
  return d === undefined ? n : { window: n, drainMs: ms };
}

export interface RunRow {
  mode: Mode; path: Path; transport: BotType; clients: number; connected: number; moved: number;
  /** From the OFFLINE call to the last client's first answer by the new node. */
  allMovedMs: number;
  /** Per client: its 'offline' event to its first answer by the new node. */
  moveP50Ms: number; moveP99Ms: number;
  /** Per client: the OFFLINE call to its first answer by the new node (counts the wait for a paced notice). */
  fromOfflineP50Ms: number; fromOfflineP99Ms: number;
  /** Per client: last answer by the old node to the first by the new one (counts idle time too). */
  gapP50Ms: number; gapP99Ms: number;
  sent: number; lost: number; duplicated: number; userDataKept: number; errors: number; firstError: string | null;
}

export interface RunResult {
  spec: Omit<RunSpec, 'redisUrl' | 'nodeFlags'>;
  rows: RunRow[];
  /**
   * Over the steady window: requests per second the clients' schedule asks for (nominal), sent
   * (offered: a busy client process sends late) and answered (delivered).
   */
  nominalReqPerSec: number; offeredReqPerSec: number; deliveredReqPerSec: number;
  /** CPU (user + system) from the OFFLINE call until everyone moved, per moved client. */
  clientCpuMsPerMove: number; serverCpuMsPerMove: number;
  /** CPU over the same span per process ('client', each node id or 'cluster', 'redis'), ms in all. */
  cpuMsByProcess: Record<string, number>;
  /**
   * All of those processes' CPU per moved client, less what streaming costs them without moves
   * (their CPU rate over the steady window, times the move window): the moves' own cost, which
   * does not grow with a run's length as the plain per-process figures do.
   */
  moveCpuMsPerMove: number;
  phases: PhaseBreakdown[];
  phasesByTransport: Record<BotType, PhaseBreakdown[]>;
  moveSamplesMs: Record<BotType, number[]>;
  loadAvg: number[];
  /** The move window on the monotonic clock V8's CPU profiles use (us), for bench/lib/profile-window. */
  moveWindowMonoUs: [number, number];
  /** The streaming-only window before the OFFLINE call (for profiles: what streaming costs per ms). */
  steadyWindowMonoUs: [number, number];
  /** Answers the clients got in the streaming window and in the move window. */
  answersInWindows: { steady: number; move: number };
  /**
   * CPU per move, all processes, less the streaming's cost per answer (steady window) times the
   * answers of the move window: streaming that stalls during a storm of moves is not taken out
   * twice (a time-based rate assumes every client kept streaming through the window).
   */
  moveCpuMsPerMoveByAnswers: number;
  /**
   * The same per process group (client, nodes: old and targets together, since streaming moves
   * from the old nodes to the targets during the window; entry; redis), in ms per move.
   */
  moveCpuMsPerMoveByGroup: Record<string, number>;
  /** Counters over the move window (ctl.counters(): Redis commands, in-process UDP datagrams). */
  windowCounts: Record<string, number>;
  /** Which process is which (client = this one), to match profiles (CPU.*.<pid>.*.cpuprofile). */
  pids: Record<string, number>;
  /** The old nodes' notice pacing over time (migration runs; bench/lib/pacing-timeline.ts). */
  pacingTimelines?: PacingTimeline[];
  /**
   * How busy the two cores were from the OFFLINE call to all moved: these processes' CPU over
   * 2 x the window, and the whole machine's busy share (/proc/stat; other work included).
   */
  saturation?: { processes: number; machine: MachineShares };
  /** --diag only. */
  diag?: RunDiagResult;
  /** --warm only. */
  warmUp?: WarmUpRecord;
}

/** CPU time of a process in ms from /proc (user + system); NaN where unavailable. */
function procCpuMs(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function waiter(check: () => boolean, deadlineMs: number): { poke(): void; done: Promise<boolean> } {
  let resolve: (ok: boolean) => void = () => undefined;
  const done = new Promise<boolean>((r) => (resolve = r));
  const t = setTimeout(() => resolve(check()), deadlineMs);
  return {
    poke: () => {
      if (check()) {
        clearTimeout(t);
        resolve(true);
      }
    },
    done,
  };
}

interface Controls {
  entryUrl: string;
  /**
   * Before the clients connect: only the nodes that will go OFFLINE take them. Warm: every node
   * is up and ONLINE (the warm-up spreads over them); hold() then keeps the targets from the entry.
   */
  prepare(warm: boolean): Promise<void>;
  hold(): Promise<void>;
  /** The targets join (processes; warm: the hold ends) or turn ONLINE (in-process). */
  addTargets(): Promise<void>;
  offline(): Promise<void>;
  /** The nodes as the cluster lists them (ids, ports, user counts). */
  nodes(): Promise<{ id: string; port: number; ports?: number[]; users: number }[]>;
  /** Complete after stop(). */
  phases(): MigrationPhaseEvent[];
  serverPids(): number[];
  /** The server side's processes by name (nodes, and Redis when there is one). */
  serverProcs(): { name: string; pid: number }[];
  /** Counters read around the move window (datagrams of the in-process UDP nodes, Redis commands by name). */
  counters(): Promise<Record<string, number>>;
  /** The UDP nodes' ports, and their --log-diag records after stop() (processes mode). */
  udpPorts(): number[];
  diags(): Record<string, NodeDiag>;
  stop(): Promise<void>;
  cleanup(): void;
}

async function controls(spec: RunSpec): Promise<Controls> {
  if (spec.mode === 'processes') {
    const pacing = pacingOption(spec.pacing);
    const c = await ProcessCluster.start({ redisUrl: spec.redisUrl, prefix: spec.prefix, nodeFlags: spec.nodeFlags, diag: spec.diag === true, ...(spec.extraPorts !== undefined ? { extraPorts: spec.extraPorts } : {}), ...(pacing !== undefined ? { offlinePacing: pacing } : {}) });
    // Warm runs only: a cold run opens no connection of its own to Redis (as before --warm).
    let registry: Registry | null = null;
    const reg = async (): Promise<Registry> => (registry ??= await processRegistry(spec.redisUrl, spec.prefix));
    let warm = false;
    const lend = async (k: number): Promise<void> => {
      const r = await reg();
      await Promise.all(TYPES.map((t) => r.lend(NEW[t], k)));
    };
    return {
      entryUrl: c.entryUrl,
      prepare: async (w) => {
        warm = w;
        await Promise.all(TYPES.flatMap((t) => (w ? [c.startNode(t, OLD[t]), c.startNode(t, NEW[t])] : [c.startNode(t, OLD[t])])));
      },
      hold: async () => {
        await lend(HOLD_USERS);
      },
      addTargets: async () => {
        if (warm) await lend(-HOLD_USERS);
        else await Promise.all(TYPES.map((t) => c.startNode(t, NEW[t])));
      },
      offline: async () => {
        for (const t of TYPES) c.offline(OLD[t]);
      },
      nodes: async () => {
        const r = await reg();
        return Promise.all([...c.nodes.keys()].map((id) => r.node(id)));
      },
      phases: () => c.phases(),
      serverPids: () => c.pids(),
      serverProcs: () => [...[...c.nodes.values()].map((x) => ({ name: x.id, pid: x.proc.pid ?? 0 })), { name: 'entry', pid: c.entryPid }, ...(spec.redisPid ? [{ name: 'redis', pid: spec.redisPid }] : [])],
      counters: () => redisCommandCounts(spec.redisUrl),
      udpPorts: () => [...c.nodes.values()].filter((x) => x.type === 'UDP').map((x) => x.port),
      diags: () => c.diags(),
      stop: async () => {
        registry?.close();
        await c.stop();
      },
      cleanup: () => c.cleanup(),
    };
  }
  const c = await startClusterChild({
    tcpNodes: 2, udpNodes: 2, encryption: true, shutdownTimeoutMs: 300_000,
    ...(spec.claimListeners !== undefined ? { claimListeners: spec.claimListeners } : {}),
    ...(spec.udpSockets !== undefined ? { udpSockets: spec.udpSockets } : {}),
    ...(pacingOption(spec.pacing) !== undefined ? { offlinePacing: pacingOption(spec.pacing) as Exclude<ReturnType<typeof pacingOption>, undefined> } : {}),
  }, spec.nodeFlags);
  const take = async (): Promise<void> => {
    for (const t of TYPES) await c.setNodeState(NEW[t], 'taken');
  };
  return {
    entryUrl: c.entryUrl,
    prepare: async (w) => {
      if (!w) await take();
    },
    hold: take,
    addTargets: async () => {
      for (const t of TYPES) await c.setNodeState(NEW[t], 'online');
    },
    offline: async () => {
      await Promise.all(TYPES.map((t) => c.setNodeState(OLD[t], 'offline')));
    },
    nodes: () => c.nodes(),
    phases: () => c.phases,
    serverPids: () => [c.pid],
    serverProcs: () => [{ name: 'cluster', pid: c.pid }],
    counters: async () => {
      const st = await c.stats();
      const t = st.timerDiag ?? {};
      const out: Record<string, number> = { 'udp datagrams in': t.datagramsIn ?? 0, 'udp datagrams out': t.datagramsOut ?? 0 };
      for (const x of st.nodes) {
        out[`${x.id} bytes in`] = x.bytesIn;
        out[`${x.id} bytes out`] = x.bytesOut;
      }
      return out;
    },
    udpPorts: () => [],
    diags: () => ({}),
    stop: () => c.stop(),
    cleanup: () => undefined,
  };
}

/** Redis commands served so far, by name (INFO commandstats; the stream readers' blocking XREADs included). */
async function redisCommandCounts(url: string): Promise<Record<string, number>> {
  const { default: Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true });
  try {
    await r.connect();
    const info = await r.info('commandstats');
    const out: Record<string, number> = {};
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[`redis ${m[1] as string}`] = Number(m[2]);
    return out;
  } finally {
    r.disconnect();
  }
}

/** Counter deltas (b - a), zeros left out. */
function deltas(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) !== 0) out[k] = v - (a[k] ?? 0);
  return out;
}

/** The client's side of "claim checked -> first answer": its 'migrated' event between the target's two phases. */
function clientSteps(log: PhaseLog, bots: MoveTimes[]): PhaseBreakdown[] {
  const toClient: number[] = [];
  const fromClient: number[] = [];
  const noticeToOffline: number[] = [];
  const offlineToRequest: number[] = [];
  const migratedToAnswer: number[] = [];
  const epoch = (t: number): number => performance.timeOrigin + t;
  for (const b of bots) {
    if (b.sid === undefined || b.migratedEpochMs === undefined) continue;
    const at = new Map(log.phasesOf(b.sid).map((p) => [p.phase, p.at]));
    const checked = at.get('claim-checked');
    const first = at.get('first-answer');
    const notice = at.get('notice-sent');
    const request = at.get('migrate-request');
    if (checked !== undefined) toClient.push(b.migratedEpochMs - checked);
    if (first !== undefined) fromClient.push(first - b.migratedEpochMs);
    if (b.offlineAt !== null && notice !== undefined) noticeToOffline.push(epoch(b.offlineAt) - notice);
    if (b.offlineAt !== null && request !== undefined) offlineToRequest.push(request - epoch(b.offlineAt));
    if (b.movedAt !== null) migratedToAnswer.push(epoch(b.movedAt) - b.migratedEpochMs);
  }
  const row = (step: string, d: number[]): PhaseBreakdown => ({ step, samples: d.length, p50Ms: percentile(d, 50), p99Ms: percentile(d, 99) });
  if (toClient.length === 0) return [];
  return [
    row('notice-sent → client offline event', noticeToOffline),
    row('client offline event → migrate-request', offlineToRequest),
    row('claim-checked → client migrated', toClient),
    row('client migrated → first-answer', fromClient),
    row('client migrated → its first answer (the move\'s end)', migratedToAnswer),
  ];
}

/**
 * The warm-up (bench/lib/warm-up.ts) on the nodes the measured storm will use, then the targets
 * held from the entry: the measured clients all connect to the old nodes, as in a cold run.
 */
async function runWarmUp(ctl: Controls, spec: RunSpec, clients: number, note: (s: string) => void): Promise<WarmUpResult & { sessionsByNode: Record<string, number> }> {
  const users = async (): Promise<number> => (await ctl.nodes()).reduce((a, x) => a + x.users, 0);
  const nodes = await ctl.nodes();
  const r = await warmUp({ entryUrl: ctl.entryUrl, path: spec.path, clients, types: TYPES, moves: WARM_MOVES, connectRate: spec.connectRate, uidPrefix: spec.prefix, users });
  if (r.errors > 0) throw new Error(`warm-up: ${r.errors} client(s) failed, first: ${r.firstError ?? '?'}`);
  // The address the entry named -> the node that has that port.
  const sessionsByNode: Record<string, number> = {};
  for (const [addr, k] of Object.entries(r.connectsByAddress)) {
    const port = Number(addr.slice(addr.lastIndexOf(':') + 1));
    const id = nodes.find((x) => x.port === port || (x.ports ?? []).includes(port))?.id ?? addr;
    sessionsByNode[id] = (sessionsByNode[id] ?? 0) + k;
  }
  await ctl.hold();
  note(`  warm-up (${spec.path}): ${clients} + ${clients} clients, ${r.moves} moves in ${Math.round(r.durationMs)} ms (of which ${Math.round(r.settleMs)} ms for the nodes to drop the users); sessions by node: ${Object.entries(sessionsByNode).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  return { ...r, sessionsByNode };
}

function warmRecord(r: WarmUpResult & { sessionsByNode: Record<string, number> }, phases: MigrationPhaseEvent[]): WarmUpRecord {
  const { sids: _sids, sessionsByNode, ...rest } = r;
  void _sids;
  const byNode: WarmUpRecord['byNode'] = {};
  for (const [id, k] of Object.entries(sessionsByNode)) byNode[id] = { sessions: k };
  for (const e of phases) {
    const n = (byNode[e.nodeId] ??= {});
    if (e.phase === 'migrate-request') n.asOld = (n.asOld ?? 0) + 1;
    if (e.phase === 'claim-checked') n.asTarget = (n.asTarget ?? 0) + 1;
  }
  return { ...rest, byNode };
}

type BotOut = MoveTimes & { type: BotType; connected: boolean; error: string | null; sent: number; lost: number; duplicated: number; kept: boolean; moved: boolean };

export async function runOnce(spec: RunSpec, note: (s: string) => void): Promise<RunResult> {
  const ctl = await controls(spec);
  let stopped = false;
  try {
    const warmN = spec.warm ?? 0;
    await ctl.prepare(warmN > 0);
    const warm = warmN > 0 ? await runWarmUp(ctl, spec, warmN, note) : null;
    const warmSids = new Set(warm?.sids ?? []);
    const stop = new AbortController();
    setMaxListeners(0, stop.signal);
    const n = spec.clients;
    const total = 2 * n;
    const tally = { sent: 0, answers: 0 };
    let settled = 0;
    const connected: Record<BotType, number> = { UDP: 0, TCP: 0 };
    const moved: Record<BotType, number> = { UDP: 0, TCP: 0 };
    const failed: Record<BotType, number> = { UDP: 0, TCP: 0 };
    const allConnected = waiter(() => settled === total, MOVE_DEADLINE_MS);
    const allMoved = waiter(() => TYPES.every((t) => moved[t] + failed[t] >= connected[t]), MOVE_DEADLINE_MS);
    const spacingMs = 1000 / spec.connectRate;
    const bots = Array.from({ length: total }, async (_, i): Promise<BotOut> => {
      const type = TYPES[i % 2] as BotType;
      const uid = `${spec.prefix}${spec.path}-${type.toLowerCase()}-${i >> 1}`;
      let up = false;
      const onConnected = (): void => {
        up = true;
        connected[type]++;
        settled++;
        allConnected.poke();
      };
      const onMoved = (): void => {
        moved[type]++;
        allMoved.poke();
      };
      await sleep(Math.floor(i * spacingMs));
      const common = { entryUrl: ctl.entryUrl, uid, type, stop: stop.signal, intervalMs: spec.intervalMs, window: spec.window, tally, onConnected, onMoved };
      const r = spec.path === 'migration' ? await runMigrationBot(common) : await runReconnectBot(common);
      const didMove = r.movedAt !== null;
      if (!up) {
        settled++;
        allConnected.poke();
      }
      if (!didMove) {
        failed[type]++;
        allMoved.poke();
      }
      const kept = r.userDataKept;
      return { ...r, kept, moved: didMove };
    });

    await allConnected.done;
    const diag = new RunDiag(spec.diag === true && spec.mode === 'processes', () => ctl.udpPorts());
    await ctl.addTargets();
    await sleep(500);
    const a0 = tally.answers;
    const q0 = tally.sent;
    const s0 = performance.now();
    const steadyMono0 = Number(process.hrtime.bigint() / 1000n);
    const steadyCpu0 = process.cpuUsage();
    diag.steadyStart();
    const steadySrv0 = ctl.serverProcs().map((p) => procCpuMs(p.pid));
    await sleep(STEADY_MS);
    const steadyMono1 = Number(process.hrtime.bigint() / 1000n);
    const steadyAnswers = tally.answers - a0;
    const window = performance.now() - s0;
    // CPU per ms of streaming without moves (client and server side), to take out of the move window.
    const steadyCpu = process.cpuUsage(steadyCpu0);
    const steadyByProc = ctl.serverProcs().map((p, i) => procCpuMs(p.pid) - (steadySrv0[i] ?? 0));
    const steadySrv = steadyByProc.filter(Number.isFinite).reduce((a, x) => a + x, 0);
    const backgroundPerMs = ((steadyCpu.user + steadyCpu.system) / 1000 + steadySrv) / window;
    const deliveredReqPerSec = ((tally.answers - a0) * 1000) / window;
    const offeredReqPerSec = ((tally.sent - q0) * 1000) / window;
    const nominalReqPerSec = ((connected.UDP + connected.TCP) * 1000) / spec.intervalMs;
    const cpu0 = process.cpuUsage();
    const srv0 = ctl.serverPids().map(procCpuMs);
    const procs = ctl.serverProcs();
    const byProc0 = procs.map((p) => procCpuMs(p.pid));
    // An old node's process exits once its sessions are gone: its last reading stands (<= 50 ms old).
    const byProcLast = [...byProc0];
    const sampler = setInterval(() => procs.forEach((p, i) => {
      const v = procCpuMs(p.pid);
      if (Number.isFinite(v)) byProcLast[i] = v;
    }), 50);
    const loadAvg = (await import('node:os')).loadavg();
    const counters0 = await ctl.counters();
    const t0 = performance.now();
    const mono0 = Number(process.hrtime.bigint() / 1000n);
    const answers0 = tally.answers;
    diag.moveStart();
    await ctl.offline();
    const complete = await allMoved.done;
    diag.moveEnd();
    const moveWindowMs = performance.now() - t0;
    const mono1 = Number(process.hrtime.bigint() / 1000n);
    const moveAnswers = tally.answers - answers0;
    const windowCounts = deltas(counters0, await ctl.counters());
    const cpu = process.cpuUsage(cpu0);
    const srv = ctl.serverPids().map((p, i) => procCpuMs(p) - (srv0[i] ?? 0)).filter(Number.isFinite).reduce((a, x) => a + x, 0);
    const cpuMsByProcess: Record<string, number> = { client: (cpu.user + cpu.system) / 1000 };
    clearInterval(sampler);
    procs.forEach((p, i) => {
      const v = procCpuMs(p.pid);
      cpuMsByProcess[p.name] = (Number.isFinite(v) ? v : (byProcLast[i] ?? Number.NaN)) - (byProc0[i] ?? 0);
    });
    note(`${spec.mode} ${spec.path} ${n}+${n} pacing ${spec.pacing}${warmN > 0 ? ` warm ${warmN}` : ""}: moved UDP ${moved.UDP}/${connected.UDP}, TCP ${moved.TCP}/${connected.TCP}${complete ? '' : ' (deadline reached)'}`);
    await sleep(AFTER_MS);
    stop.abort();
    const results = await Promise.all(bots);
    // The nodes write their phases as they exit.
    await ctl.stop();
    stopped = true;
    const movedTotal = moved.UDP + moved.TCP;
    const byGroup = (): Record<string, number> => {
      const perAnswer = steadyAnswers > 0 ? moveAnswers / steadyAnswers : Number.NaN;
      const group = (name: string): string => (name === 'client' || name === 'entry' || name === 'redis' ? name : 'nodes');
      const out: Record<string, number> = { client: ((cpu.user + cpu.system) / 1000 - ((steadyCpu.user + steadyCpu.system) / 1000) * perAnswer) / movedTotal };
      procs.forEach((p, i) => {
        const g = group(p.name);
        out[g] = (out[g] ?? 0) + ((cpuMsByProcess[p.name] ?? Number.NaN) - (steadyByProc[i] ?? 0) * perAnswer) / movedTotal;
      });
      return out;
    };
    const log = new PhaseLog();
    // The warm-up's moves are not the measured ones.
    const events = ctl.phases().filter((e) => e.sid === null || !warmSids.has(e.sid));
    for (const e of events) log.add(e);
    const timelines = spec.path === 'migration' ? pacingTimelines(events, TYPES.map((t) => OLD[t])) : [];
    for (const t of timelines) timelineLines(t).forEach(note);
    const pairs = Object.fromEntries(TYPES.map((t) => [t, [OLD[t], NEW[t]]])) as Record<string, [string, string]>;
    const diagResult = spec.path === 'migration' ? diag.finish(log, results, ctl.diags(), pairs, note) : diag.finish(log, [], ctl.diags(), {}, note);
    const saturation = { processes: Object.values(cpuMsByProcess).filter(Number.isFinite).reduce((a, x) => a + x, 0) / (2 * moveWindowMs), machine: diag.machine };
    const pc = (x: number): string => `${(x * 100).toFixed(0)} %`;
    const m = saturation.machine;
    note(`  two cores from OFFLINE to all moved (${Math.round(moveWindowMs)} ms): these processes ${pc(saturation.processes)}; the machine: user + system ${pc(m.userSys)} (other processes ${pc(m.userSys - saturation.processes)}), irq + softirq ${pc(m.irq)}, steal ${pc(m.steal)}, idle ${pc(m.idle)}`);
    const moveSamplesMs: Record<BotType, number[]> = { UDP: [], TCP: [] };
    const rows = TYPES.map((t): RunRow => {
      const rs = results.filter((r) => r.type === t);
      const moves = rs.filter((r) => r.offlineAt !== null && r.movedAt !== null).map((r) => (r.movedAt as number) - (r.offlineAt as number));
      const fromOffline = rs.filter((r) => r.movedAt !== null).map((r) => (r.movedAt as number) - t0);
      const gaps = rs.filter((r) => r.lastOldAnswerAt !== null && r.movedAt !== null).map((r) => (r.movedAt as number) - (r.lastOldAnswerAt as number));
      const last = Math.max(...rs.map((r) => r.movedAt ?? Number.NaN).filter(Number.isFinite));
      moveSamplesMs[t] = moves;
      const errs = rs.filter((r) => r.error !== null);
      return {
        mode: spec.mode, path: spec.path, transport: t, clients: n, connected: connected[t], moved: moved[t],
        allMovedMs: moved[t] > 0 ? last - t0 : Number.NaN,
        moveP50Ms: percentile(moves, 50), moveP99Ms: percentile(moves, 99),
        fromOfflineP50Ms: percentile(fromOffline, 50), fromOfflineP99Ms: percentile(fromOffline, 99),
        gapP50Ms: percentile(gaps, 50), gapP99Ms: percentile(gaps, 99),
        sent: rs.reduce((a, r) => a + r.sent, 0), lost: rs.reduce((a, r) => a + r.lost, 0),
        duplicated: rs.reduce((a, r) => a + r.duplicated, 0), userDataKept: rs.filter((r) => r.kept).length,
        errors: errs.length, firstError: errs[0]?.error ?? null,
      };
    });
    return {
      spec: {
        mode: spec.mode, path: spec.path, clients: n, intervalMs: spec.intervalMs, window: spec.window, connectRate: spec.connectRate, prefix: spec.prefix, pacing: spec.pacing, warm: warmN,
        ...(spec.claimListeners !== undefined ? { claimListeners: spec.claimListeners } : {}),
        ...(spec.udpSockets !== undefined ? { udpSockets: spec.udpSockets } : {}),
        ...(spec.extraPorts !== undefined ? { extraPorts: spec.extraPorts } : {}),
      },
      rows, nominalReqPerSec, offeredReqPerSec, deliveredReqPerSec,
      clientCpuMsPerMove: movedTotal > 0 ? (cpu.user + cpu.system) / 1000 / movedTotal : Number.NaN,
      serverCpuMsPerMove: movedTotal > 0 ? srv / movedTotal : Number.NaN,
      cpuMsByProcess,
      moveCpuMsPerMove: movedTotal > 0 ? (Object.values(cpuMsByProcess).filter(Number.isFinite).reduce((a, x) => a + x, 0) - backgroundPerMs * moveWindowMs) / movedTotal : Number.NaN,
      phases: log.breakdown(),
      phasesByTransport: {
        UDP: [...log.breakdown(OLD.UDP), ...clientSteps(log, results.filter((r) => r.type === 'UDP'))],
        TCP: [...log.breakdown(OLD.TCP), ...clientSteps(log, results.filter((r) => r.type === 'TCP'))],
      },
      moveSamplesMs, loadAvg,
      moveWindowMonoUs: [mono0, mono1],
      steadyWindowMonoUs: [steadyMono0, steadyMono1],
      answersInWindows: { steady: steadyAnswers, move: moveAnswers },
      moveCpuMsPerMoveByGroup: byGroup(),
      moveCpuMsPerMoveByAnswers: movedTotal > 0 && steadyAnswers > 0 ? (Object.values(cpuMsByProcess).filter(Number.isFinite).reduce((a, x) => a + x, 0) - ((backgroundPerMs * window) / steadyAnswers) * moveAnswers) / movedTotal : Number.NaN,
      windowCounts,
      pids: Object.fromEntries([['client', process.pid], ...procs.map((p) => [p.name, p.pid])]),
      pacingTimelines: timelines,
      saturation,
      ...(diagResult !== undefined ? { diag: diagResult } : {}),
      ...(warm !== null ? { warmUp: warmRecord(warm, ctl.phases().filter((e) => e.sid !== null && warmSids.has(e.sid))) } : {}),
    };
  } finally {
    if (!stopped) await ctl.stop();
    ctl.cleanup();
  }
}
