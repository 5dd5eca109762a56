/**
 * bench/move-cpu: the nodes' CPU per move at low load, by process, with two node processes on Redis
 * (issue 12). N idle clients connect to node 1 of one transport; node 2 joins; node 1 goes OFFLINE
 * (SIGTERM, default pacing) and each client, once migrated, sends one request. No streaming, so
 * every CPU tick in the window belongs to the moves (less each process's idle CPU over an equal
 * span, measured just before). CPU from /proc/<pid>/task/<tid>/schedstat (ns, summed over threads; node 1 is
 * read every 5 ms until it exits: a thread that ended before the last reading is left out).
 *
 * `--trees A,B` runs other builds' CLIs (a tree holding dist/src/cli/main.js, e.g. a copy of main's
 * dist/ made by bench/build-baseline.sh) interleaved ABBA in one run, with this tree's clients;
 * `DIR:FLAGS` runs that tree's nodes with node.js flags (e.g. `.:--always-sparkplug`).
 * `--strace` counts each node's system calls over the window (exact counts; the CPU figures of
 * such a round are not comparable). `--cpu-prof DIR` profiles the node processes and writes a
 * result that bench/profile-window reads. `--warm 0,300` (bench/lib/warm-up.ts): before the measured
 * moves, node 2 is up and that many warm-up clients move from each node to the other and back (both
 * node processes have run a move's steps as old node and as target, as long-running nodes have);
 * then node 2 is held from the entry while the N clients connect. 0 = fresh processes (the default);
 * several values are interleaved like the trees.
 *
 *   node dist/bench/move-cpu.js [--clients 300] [--rounds 2] [--transports UDP,TCP] [--trees .,DIR]
 *        [--warm 0,300] [--strace] [--cpu-prof DIR] [--name move-cpu]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadavg } from 'node:os';
import { getEndpoint, TcpClient, UdpClient } from '../src/client';
import { RedisServer } from '../test/helpers/redis-server';
import { ProcessCluster } from './lib/process-cluster';
import { writeResult } from './lib/results';
import { HOLD_USERS, processRegistry, warmUp, type WarmUpResult } from './lib/warm-up';

const argv = process.argv;
const arg = (n: string): string | undefined => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : undefined);
const clients = Number(arg('clients') ?? 300);
const rounds = Number(arg('rounds') ?? 2);
const transports = (arg('transports') ?? 'UDP,TCP').split(',') as ('UDP' | 'TCP')[];
const trees = (arg('trees') ?? '.').split(',');
const profDir = arg('cpu-prof');
const straced = argv.includes('--strace');
const warms = (arg('warm') ?? '0').split(',').map(Number);

/** CPU of every thread of `pid` in ms, from schedstat (ns; /proc's stat counts 10 ms ticks). */
function procCpuMs(pid: number): number {
  try {
    let ns = 0;
    for (const t of fs.readdirSync(`/proc/${pid}/task`)) ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return Number.NaN;
  }
}
/** utime and stime of `pid` in ms (every thread; 10 ms ticks, so only a split of a whole window). */
function procUserSysMs(pid: number): [number, number] {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5); `rest` starts at field 3.
    return [Number(rest[11]) * 10, Number(rest[12]) * 10];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** strace -c on every thread of `pid` until stop(); the summary's syscall -> calls. */
function strace(pid: number): { stop(): Promise<Map<string, number>> } {
  const out = `/tmp/move-cpu-strace-${pid}.txt`;
  const tids = fs.readdirSync(`/proc/${pid}/task`);
  const p: ChildProcess = spawn('strace', ['-c', '-o', out, ...tids.flatMap((t) => ['-p', t])], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  return {
    async stop() {
      p.kill('SIGINT');
      await exited;
      const m = new Map<string, number>();
      for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 5 && /^\d/.test(f[0] ?? '') && f[f.length - 1] !== 'total') m.set(f[f.length - 1] as string, Number(f[3]));
      }
      fs.rmSync(out, { force: true });
      return m;
    },
  };
}

interface Round {
  tree: string;
  /** Warm-up clients (0: fresh node processes). */
  warm: number;
  warmUp?: Omit<WarmUpResult, 'sids'>;
  transport: string;
  moved: number;
  windowMs: number;
  /** ms of CPU per move, idle CPU subtracted: old node, target, entry, redis, client. */
  perMove: Record<string, number>;
  /** Share of the old node's and the target's CPU in the kernel over the window (stat's 10 ms ticks). */
  sysShare: Record<string, number>;
  syscalls?: Record<string, Record<string, number>>;
  load: number;
}

async function once(redis: RedisServer, tree: string, warm: number, transport: 'UDP' | 'TCP', k: number, runs: unknown[]): Promise<Round> {
  const [dir = '.', flags = ''] = tree.split(':');
  const cli = path.resolve(dir === '.' ? path.join(__dirname, '..') : path.join(dir, 'dist'), 'src', 'cli', 'main.js');
  const nodeFlags = [...flags.split(' ').filter((f) => f !== ''), ...(profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`])];
  const c = await ProcessCluster.start({ redisUrl: redis.url, prefix: `mc${k}:`, cli, nodeFlags, shutdownTimeoutMs: 60_000 });
  const t = transport.toLowerCase();
  const list: (UdpClient | TcpClient)[] = [];
  const registry = await processRegistry(redis.url, `mc${k}:`);
  try {
    const old = await c.startNode(transport, `${t}-1`);
    let warmed: WarmUpResult | undefined;
    if (warm > 0) {
      await c.startNode(transport, `${t}-2`);
      const users = async (): Promise<number> => (await Promise.all([`${t}-1`, `${t}-2`].map((id) => registry.node(id)))).reduce((a, x) => a + x.users, 0);
      warmed = await warmUp({ entryUrl: c.entryUrl, path: 'migration', clients: warm, types: [transport], moves: 2, connectRate: 400, uidPrefix: `mc${k}:`, users });
      // The warm-up only warms the processes: a few of its clients failing (seen on a loaded machine,
      // both builds alike) is reported, not fatal; the measured moves must all succeed.
      if (warmed.errors > warm / 100) throw new Error(`warm-up: ${warmed.errors} failed, first: ${warmed.firstError ?? '?'}`);
      if (warmed.errors > 0) console.log(`  warm-up: ${warmed.errors} of ${warm} clients failed (tolerated up to 1 %), first: ${warmed.firstError ?? '?'}`);
      await registry.lend(`${t}-2`, HOLD_USERS);
    }
    for (let i = 0; i < clients; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, clients - i) }, async (_, j) => {
          const cl = transport === 'UDP' ? new UdpClient({ migration: 'auto', requestTimeoutMs: 30_000 }) : new TcpClient({ migration: 'auto', requestTimeoutMs: 30_000 });
          cl.on('error', () => undefined);
          await cl.connect(await getEndpoint(c.entryUrl, { type: transport, uid: `u${i + j}` }));
          await cl.request(2, 4, Buffer.from([0, 0, 0, 1]));
          list.push(cl);
        }),
      );
    }
    const target = warm > 0 ? (c.nodes.get(`${t}-2`) as NonNullable<ReturnType<typeof c.nodes.get>>) : await c.startNode(transport, `${t}-2`);
    if (warm > 0) await registry.lend(target.id, -HOLD_USERS);
    const pids: Record<string, number> = { old: old.proc.pid ?? 0, target: target.proc.pid ?? 0, entry: c.entryPid, redis: redis.pid };
    await sleep(500);
    // Idle CPU of each process over 1 s (heartbeats, blocking reads timing out), subtracted below.
    const idle0 = Object.values(pids).map(procCpuMs);
    const idleC0 = process.cpuUsage();
    await sleep(1000);
    const idle = Object.values(pids).map((p, i) => procCpuMs(p) - (idle0[i] ?? 0));
    const idleC = process.cpuUsage(idleC0);
    const traces = straced ? { old: strace(pids.old as number), target: strace(pids.target as number) } : null;
    if (traces !== null) await sleep(300);
    const seen: string[][] = list.map(() => []);
    list.forEach((cl, i) => {
      for (const ev of ['offline', 'migrated', 'migration-failed', 'disconnect'] as const) cl.on(ev as 'offline', () => void seen[i]?.push(ev));
    });
    let done = 0;
    const moved = list.map((cl) => new Promise<void>((resolve, reject) => cl.once('migrated', () => void cl.request(2, 4, Buffer.from([0, 0, 0, 2])).then(() => resolve(void done++), reject))));
    let stuck: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      stuck = setTimeout(() => {
        const left = seen.map((e, i) => `${i}:${list[i]?.state ?? '?'}:${e.join('/')}`).filter((_, i) => !(seen[i] ?? []).includes('migrated'));
        reject(new Error(`after 20 s, ${done} of ${clients} moved; not migrated: ${left.slice(0, 10).join(' ')}`));
      }, 20_000);
    });
    const cpu0 = Object.values(pids).map(procCpuMs);
    const c0 = process.cpuUsage();
    const m0 = monoUs();
    // The old node's last reading before it exits stands.
    let oldLast = cpu0[0] as number;
    const us0 = { old: procUserSysMs(pids.old as number), target: procUserSysMs(pids.target as number) };
    let oldUs = us0.old;
    const sampler = setInterval(() => {
      const v = procCpuMs(pids.old as number);
      // Threads leave the sum as the process exits: the highest reading stands.
      if (Number.isFinite(v) && v > oldLast) {
        oldLast = v;
        const u = procUserSysMs(pids.old as number);
        if (Number.isFinite(u[0])) oldUs = u;
      }
    }, 5);
    c.offline(old.id);
    await Promise.race([Promise.all(moved), deadline]);
    clearTimeout(stuck);
    const m1 = monoUs();
    await old.exited;
    clearInterval(sampler);
    const cpuC = process.cpuUsage(c0);
    const cpu1 = Object.values(pids).map((p, i) => (i === 0 ? oldLast : procCpuMs(p)));
    const us1 = { old: oldUs, target: procUserSysMs(pids.target as number) };
    const share = (a: [number, number], b: [number, number]): number => (b[1] - a[1]) / (b[0] - a[0] + b[1] - a[1]);
    const sysShare = { old: share(us0.old, us1.old), target: share(us0.target, us1.target) };
    const windowMs = (m1 - m0) / 1000;
    const names = Object.keys(pids);
    const perMove: Record<string, number> = {};
    names.forEach((n, i) => {
      // Node 1 runs until it exits (its closes): its idle share over the move window only.
      perMove[n] = ((cpu1[i] as number) - (cpu0[i] as number) - ((idle[i] as number) * windowMs) / 1000) / clients;
    });
    perMove.client = ((cpuC.user + cpuC.system - ((idleC.user + idleC.system) * windowMs) / 1000) / 1000) / clients;
    perMove.nodes = (perMove.old as number) + (perMove.target as number);
    let syscalls: Round['syscalls'];
    if (traces !== null) {
      const [o, tg] = await Promise.all([traces.old.stop(), traces.target.stop()]);
      const per = (m: Map<string, number>): Record<string, number> => Object.fromEntries([...m].map(([k2, v]) => [k2, Number((v / clients).toFixed(2))]));
      syscalls = { old: per(o), target: per(tg) };
    }
    runs.push({ spec: { mode: `${tree} ${transport}${warm > 0 ? ` warm ${warm}` : ''}`, path: 'migration', clients }, rows: [{ moved: clients }], moveWindowMonoUs: [m0, m1], pids: { old: pids.old, target: pids.target } });
    const { sids: _s, ...warmUpRecord } = warmed ?? { sids: [] };
    void _s;
    return { tree, warm, ...(warmed !== undefined ? { warmUp: warmUpRecord as Omit<WarmUpResult, 'sids'> } : {}), transport, moved: clients, windowMs, perMove, sysShare, ...(syscalls !== undefined ? { syscalls } : {}), load: loadavg()[0] as number };
  } finally {
    registry.close();
    for (const cl of list) cl.destroy();
    await c.stop();
    c.cleanup();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const results: Round[] = [];
  const runs: unknown[] = [];
  let k = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      // ABBA: the trees' order flips every round.
      const order = r % 2 === 0 ? trees : [...trees].reverse();
      const warmOrder = r % 2 === 0 ? warms : [...warms].reverse();
      for (const transport of transports) {
        for (const tree of order) for (const warm of warmOrder) {
          const res = await once(redis, tree, warm, transport, k++, runs);
          const f = (x: number | undefined): string => (x ?? 0).toFixed(3);
          if (res.warmUp !== undefined) console.log(`  warm-up: ${warm} clients, ${res.warmUp.moves} moves in ${res.warmUp.durationMs.toFixed(0)} ms (${res.warmUp.settleMs.toFixed(0)} ms for the nodes to drop the users)`);
          console.log(`round ${r + 1} ${transport} ${tree} warm ${warm}: ${res.moved} moved in ${res.windowMs.toFixed(0)} ms, load ${res.load.toFixed(1)}; CPU ms per move: old ${f(res.perMove.old)}, target ${f(res.perMove.target)}, nodes ${f(res.perMove.nodes)}, redis ${f(res.perMove.redis)}, entry ${f(res.perMove.entry)}, client ${f(res.perMove.client)}; kernel share old ${(100 * (res.sysShare.old ?? 0)).toFixed(0)} %, target ${(100 * (res.sysShare.target ?? 0)).toFixed(0)} %`);
          if (res.syscalls !== undefined) for (const [n, m] of Object.entries(res.syscalls)) console.log(`  syscalls per move, ${n}: ${Object.entries(m).sort((a, b) => b[1] - a[1]).map(([s, v]) => `${s} ${v}`).join(', ')}`);
          results.push(res);
        }
      }
    }
  } finally {
    await redis.stop();
  }
  console.log('\nmedians, CPU ms per move (old / target / nodes / redis / client):');
  for (const transport of transports) {
    for (const tree of trees) for (const warm of warms) {
      const rs = results.filter((x) => x.tree === tree && x.transport === transport && x.warm === warm);
      const m = (key: string): string => median(rs.map((x) => x.perMove[key] ?? 0)).toFixed(3);
      const sh = (key: string): string => (100 * median(rs.map((x) => x.sysShare[key] ?? 0))).toFixed(0);
      console.log(`  ${transport} ${tree} warm ${warm}: ${m('old')} / ${m('target')} / ${m('nodes')} / ${m('redis')} / ${m('client')} (${rs.length} rounds, load ${rs.map((x) => x.load.toFixed(1)).join(' ')}); kernel share old ${sh('old')} %, target ${sh('target')} %`);
    }
  }
  const file = writeResult(arg('name') ?? 'move-cpu', { clients, rounds, transports, trees, warms, results, runs });
  console.log(`wrote ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
