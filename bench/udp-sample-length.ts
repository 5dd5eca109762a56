/**
 * bench/udp-sample-length: why bench/udp's CPU table depends on the sample length. For each kind
 * (as in bench/udp --cpu-only: native-loop, native-thread, typescript, c-floor), depth and variant
 * (measured messages : warm-up messages), one sample against one UDP node in a cluster child (the
 * table's setup), and, every `--slice-ms` while it runs, from outside both processes:
 * - the client's CPU (/proc/<pid>/task/<tid>/schedstat run times, ns): every thread, and the
 *   threads other than the main one (V8's compiler and GC helpers, libuv, the addon's network
 *   thread), and its main thread's voluntary context switches (wake-ups);
 * - the node's echo requests served (its own counter), its CPU (process.cpuUsage) and its GC
 *   (perf_hooks 'gc' entries) through the cluster child's stats.
 * Per sample it prints the client's own figure (what the table uses) beside the client's and the
 * node's CPU per echo over the first, middle and last third of the echoes the node served (the
 * child's start-up and warm-up fall in the first, its close in the last: a thread that exits
 * there leaves the sum, so the last third's other-thread figure can go negative), the rate and
 * the node's GC. Variants interleaved per round, kinds rotated.
 *
 *   node dist/bench/udp-sample-length.js [--kinds native-loop,c-floor] [--depths 8,64]
 *                                        [--variants 10000:2000,30000:2000,100000:2000] [--rounds 2] [--slice-ms 200]
 */
import * as fs from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { startClusterChild, type ClusterChild } from './lib/cluster-process';
import { buildFloor, runUdpFloor } from './lib/c-floor';
import { runEchoChild } from './lib/echo-run';
import type { EchoSample } from './lib/tcp-echo-child';
import { writeResult } from './lib/results';
import { fmt } from './lib/stats';
import { formatTable } from '../src/cli/table';

function list(name: string, dflt: string): string[] {
  const i = process.argv.indexOf(`--${name}`);
  return (i >= 0 ? process.argv[i + 1] ?? dflt : dflt).split(',');
}

interface Slice { t: number; clientNs: number; clientMainNs: number; wakeups: number; requests: number; nodeCpuUs: number; gcCount: number; gcMs: number; heapMiB: number }

/** Every thread's run time (ns), the main thread's, and its voluntary context switches; undefined once the process is gone. */
function processTimes(pid: number): { ns: number; mainNs: number; wakeups: number } | undefined {
  try {
    let ns = 0;
    let mainNs = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const t = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      ns += t;
      if (tid === String(pid)) mainNs = t;
    }
    const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { ns, mainNs, wakeups: Number(m?.[1] ?? Number.NaN) };
  } catch {
    return undefined;
  }
}

async function nodeSlice(cluster: ClusterChild): Promise<Omit<Slice, 'clientNs' | 'clientMainNs' | 'wakeups'>> {
  const s = await cluster.stats();
  return {
    t: performance.now(), requests: s.nodes.reduce((a, n) => a + n.requests, 0), nodeCpuUs: (s.cpuUserMs + s.cpuSystemMs) * 1000,
    gcCount: s.gcCount ?? 0, gcMs: s.gcMs ?? 0, heapMiB: s.heapUsedMiB ?? 0,
  };
}

/** Runs `start` (given a wrap that records the child's pid) and samples both sides every sliceMs. */
async function sampled(cluster: ClusterChild, sliceMs: number, start: (wrap: string[]) => Promise<EchoSample>): Promise<{ sample: EchoSample; slices: Slice[] }> {
  const pidFile = path.join(tmpdir(), `udp-sample-length-${process.pid}.pid`);
  fs.rmSync(pidFile, { force: true });
  // exec keeps the pid: the file names the measured process itself.
  const wrap = ['sh', '-c', `echo $$ > ${pidFile}; exec "$@"`, 'sh'];
  const slices: Slice[] = [];
  let pid = 0;
  let busy = false;
  const tick = async (): Promise<void> => {
    if (pid === 0 && fs.existsSync(pidFile)) pid = Number(fs.readFileSync(pidFile, 'utf8').trim()) || 0;
    const c = pid === 0 ? undefined : processTimes(pid);
    if (c === undefined) return;
    slices.push({ ...(await nodeSlice(cluster)), clientNs: c.ns, clientMainNs: c.mainNs, wakeups: c.wakeups });
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void tick().finally(() => (busy = false));
  }, sliceMs);
  try {
    const sample = await start(wrap);
    return { sample, slices };
  } finally {
    clearInterval(timer);
  }
}

interface Third { clientUs: number; clientOtherUs: number; nodeUs: number; wakeups: number; rate: number }

/** The slices cut in three by echoes served: client (all threads, other threads) and node CPU per echo, wake-ups per echo, echoes/s. */
function thirds(slices: Slice[]): Third[] {
  if (slices.length < 4) return [];
  const first = slices[0] as Slice;
  const last = slices[slices.length - 1] as Slice;
  const total = last.requests - first.requests;
  const out: Third[] = [];
  let from = first;
  for (let k = 1; k <= 3; k++) {
    const to = slices.find((s) => s.requests - first.requests >= (total * k) / 3) ?? last;
    const n = to.requests - from.requests;
    const other = to.clientNs - to.clientMainNs - (from.clientNs - from.clientMainNs);
    out.push({ clientUs: (to.clientNs - from.clientNs) / 1000 / n, clientOtherUs: other / 1000 / n, nodeUs: (to.nodeCpuUs - from.nodeCpuUs) / n,
      wakeups: (to.wakeups - from.wakeups) / n, rate: (n * 1000) / (to.t - from.t) });
    from = to;
  }
  return out;
}

async function main(): Promise<void> {
  const kinds = list('kinds', 'native-loop,c-floor');
  const depths = list('depths', '8,64').map(Number);
  const variants = list('variants', '10000:2000,30000:2000,100000:2000').map((v) => v.split(':').map(Number) as [number, number]);
  const rounds = Number(list('rounds', '2')[0]);
  const sliceMs = Number(list('slice-ms', '200')[0]);
  const floor = buildFloor('udp_echo_floor');
  const cluster = await startClusterChild({ tcpNodes: 0, udpNodes: 1, encryption: true });
  const rows: Record<string, unknown>[] = [];
  let uid = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      for (const depth of depths) {
        for (const [vi, [n, warmup]] of variants.entries()) {
          for (let k = 0; k < kinds.length; k++) {
            const kind = kinds[(k + r + vi) % kinds.length] as string;
            const load = loadavg()[0] as number;
            const n0 = await nodeSlice(cluster);
            const { sample, slices } = await sampled(cluster, sliceMs, (wrap) => kind === 'c-floor'
              ? runUdpFloor(floor, cluster.entryUrl, depth, n, `len-${uid++}`, wrap, warmup)
              : runEchoChild(kind, cluster.entryUrl, depth, n, 1, `len-${uid++}`, undefined, 'UDP', wrap, warmup));
            const n1 = await nodeSlice(cluster);
            const served = n1.requests - n0.requests;
            const row = {
              round: r, kind, depth, messages: n, warmup, load, cpuUs: sample.cpuUs, rate: sample.messages / sample.seconds,
              // The node over the whole child's life (warm-up and handshake included): per echo served.
              nodeUs: (n1.nodeCpuUs - n0.nodeCpuUs) / served, gc: n1.gcCount - n0.gcCount, gcMs: n1.gcMs - n0.gcMs, heapMiB: n1.heapMiB,
              thirds: thirds(slices),
              // Per slice: echoes the node served, the client's CPU (all threads, other threads) in us.
              slices: slices.slice(1).map((x, i) => {
                const y = slices[i] as Slice;
                return [x.requests - y.requests, Math.round((x.clientNs - y.clientNs) / 1000), Math.round((x.clientNs - x.clientMainNs - y.clientNs + y.clientMainNs) / 1000)];
              }),
            };
            rows.push(row);
            const th = row.thirds.map((t) => `${fmt(t.clientUs, 2)}(${fmt(t.clientOtherUs, 2)})/${fmt(t.nodeUs, 2)}/${fmt(t.wakeups, 3)}@${fmt(t.rate, 0)}`).join('  ');
            process.stderr.write(`r${r} ${kind} d${depth} n${n} w${warmup} load ${load.toFixed(1)}: client ${sample.cpuUs.toFixed(2)} us @ ${row.rate.toFixed(0)}/s, ` +
              `node ${row.nodeUs.toFixed(2)} us, gc ${row.gc} (${row.gcMs.toFixed(0)} ms), heap ${row.heapMiB.toFixed(1)} MiB | thirds client(other threads)/node/wakeups@rate ${th}\n`);
          }
        }
      }
    }
  } finally {
    await cluster.stop();
  }
  console.log(formatTable(['round', 'client', 'in flight', 'messages', 'warm-up', 'load', 'cpu us/msg', 'msgs/s', 'node us/msg', 'node gc', 'gc ms',
    'client us 1st/2nd/3rd third', 'other threads', 'node us 1st/2nd/3rd', 'wake-ups/msg 1st/3rd'],
  rows.map((x) => {
    const t = x.thirds as Third[];
    return [x.round as number, x.kind as string, x.depth as number, x.messages as number, x.warmup as number, fmt(x.load as number, 1), fmt(x.cpuUs as number, 2),
      fmt(x.rate as number, 0), fmt(x.nodeUs as number, 2), x.gc as number, fmt(x.gcMs as number, 0),
      t.map((y) => fmt(y.clientUs, 2)).join(' / '), t.map((y) => fmt(y.clientOtherUs, 2)).join(' / '), t.map((y) => fmt(y.nodeUs, 2)).join(' / '),
      t.length === 3 ? `${fmt(t[0]?.wakeups ?? Number.NaN, 3)} / ${fmt(t[2]?.wakeups ?? Number.NaN, 3)}` : '-'];
  })));
  console.log(`\nwrote ${writeResult('udp-sample-length', { kinds, depths, variants, rounds, sliceMs, rows })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
