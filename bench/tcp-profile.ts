/**
 * bench/tcp-profile: where one bench/tcp-throughput row spends its CPU. Runs one row (its own
 * process, as the bench does) under `node --cpu-prof` and prints the self time per function,
 * grouped (the JS request path, the batch dispatch, the addon calls, GC, the rest), as a share of
 * the samples and in µs per message. For the native side, run the same row under perf instead:
 *
 *   node dist/bench/tcp-profile.js [--kind native-loop] [--depth 64] [--messages 200000] [--top 25]
 *   node dist/bench/tcp-profile.js --perf /tmp/perf.data [--addon build/prof/RelWithDebInfo/diarkis_node.node] ...
 *     (perf record -g, node --perf-basic-prof; --addon: an unstripped build for the addon's symbols)
 *   --kind baseline-stream|baseline-loop --baseline build/baseline/<commit>/src: the baseline's client (A/B)
 *   --transport UDP: the row of bench/udp's CPU table (the UdpClient against a UDP node)
 *   --kind c-floor --perf <file>: the C floor of that transport under perf (the same buckets by DSO)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatTable } from '../src/cli/table';
import { startClusterChild } from './lib/cluster-process';
import { buildFloor } from './lib/c-floor';
import { runEchoChild } from './lib/echo-run';
import { runKind } from './lib/run-kind';
import { fmt } from './lib/stats';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] }

function stringArg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] as string) : dflt;
}

/** Self samples per function (name + file:line). */
function selfTimes(p: CpuProfile): Map<string, number> {
  const out = new Map<string, number>();
  for (const n of p.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const f = n.callFrame;
    const where = f.url === '' ? '' : ` ${path.basename(f.url)}:${f.lineNumber + 1}`;
    const name = `${f.functionName === '' ? '(anonymous)' : f.functionName}${where}`;
    out.set(name, (out.get(name) ?? 0) + hits);
  }
  return out;
}

async function main(): Promise<void> {
  const kind = stringArg('kind', 'native-loop');
  const depth = Number(stringArg('depth', '64'));
  const messages = Number(stringArg('messages', '200000'));
  const top = Number(stringArg('top', '25'));
  const perfOut = process.argv.includes('--perf') ? stringArg('perf', '/tmp/perf.data') : undefined;
  if (kind === 'c-floor' && perfOut === undefined) throw new Error('--kind c-floor: a C program, profiled with --perf only');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcp-profile-'));
  const transport = stringArg('transport', 'TCP') === 'UDP' ? 'UDP' : 'TCP';
  const cluster = await startClusterChild(transport === 'UDP' ? { tcpNodes: 0, udpNodes: 1, encryption: true } : { tcpNodes: 1, encryption: true });
  const saved = process.env.NODE_OPTIONS;
  try {
    // --cpu-prof is refused in NODE_OPTIONS: a shell adds it in front of the child's script
    // ($0 is the node binary runEchoChild passes after the wrap).
    if (perfOut) process.env.NODE_OPTIONS = '--perf-basic-prof';
    // --addon: an unstripped build (cmake-js ... --CDCMAKE_BUILD_TYPE=RelWithDebInfo) for perf's symbols.
    const addon = process.argv.includes('--addon') ? ['env', `DIARKIS_NODE_ADDON=${path.resolve(stringArg('addon', ''))}`] : [];
    const wrap = perfOut
      ? [...addon, 'perf', 'record', '-g', '-F', '4000', '-o', perfOut, '--']
      : ['sh', '-c', `exec "$0" --cpu-prof --cpu-prof-interval=50 --cpu-prof-dir=${dir} "$@"`];
    const baseline = process.argv.includes('--baseline') ? stringArg('baseline', '') : undefined;
    const uid = `prof-${Date.now()}`;
    const s = kind === 'c-floor'
      ? await runKind(kind, transport === 'UDP' ? { floor: '', nodeFloor: '', udpFloor: buildFloor('udp_echo_floor') } : { floor: buildFloor(), nodeFloor: '' },
        cluster.entryUrl, depth, messages, 1, uid, undefined, wrap, transport)
      : await runEchoChild(kind, cluster.entryUrl, depth, messages, 1, uid, baseline, transport, wrap);
    process.env.NODE_OPTIONS = saved;
    console.log(`${kind} at ${depth} in flight: ${fmt(s.cpuUs, 2)} µs CPU per message, ${messages} messages (load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
    if (perfOut) {
      console.log(`perf data in ${perfOut}: perf report -i ${perfOut} --no-children --sort dso,sym`);
      return;
    }
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('no .cpuprofile written');
    const prof = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
    const self = selfTimes(prof);
    // Shares of the busy samples (idle excluded); µs from the sampling period.
    const usPerSample = (prof.endTime - prof.startTime) / prof.samples.length;
    self.delete('(idle)');
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    // Start-up and warm-up are in the profile too: µs per message is an upper bound per function.
    const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
      .map(([name, hits]) => [name, fmt((100 * hits) / total, 1), fmt((hits * usPerSample) / messages, 3)]);
    console.log(`\nself time, ${total} busy samples of ${fmt(usPerSample, 0)} µs on the JS thread (idle excluded)\n`);
    console.log(formatTable(['function', '% samples', 'µs / message'], rows));
  } finally {
    process.env.NODE_OPTIONS = saved;
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
