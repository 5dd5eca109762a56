/**
 * bench/profile-window: where each process's CPU went during the moves of bench/migration runs.
 * Reads the run's JSON (its move window on the monotonic clock, and the pid of every process) and
 * the V8 CPU profiles written with `--cpu-prof DIR`; keeps only samples inside the move window, and
 * reports per process: sampled ms per moved client, by category of the leaf frame (self time) and
 * by phase (inclusive time of the entry points that a move runs through).
 *
 *   node dist/bench/profile-window.js bench/results/migration.json DIR [--top 15]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

interface Frame { functionName: string; url: string; lineNumber: number }
interface ProfNode { id: number; callFrame: Frame; children?: number[] }
interface Profile { nodes: ProfNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }
interface Run { spec: { mode: string; path: string; clients: number; pacing?: string }; rows: { moved: number }[]; moveWindowMonoUs?: [number, number]; steadyWindowMonoUs?: [number, number]; answersInWindows?: { steady: number; move: number }; pids?: Record<string, number> }

/** Self time of a leaf frame, by what it is. */
function category(f: Frame): string {
  const u = f.url;
  const n = f.functionName;
  if (n === '(garbage collector)') return 'gc';
  if (n === '(idle)' || n === '(program)' || n === '(root)') return n;
  if (u.includes('ioredis') || u.includes('redis-parser') || u.includes('redis-store')) return 'redis client';
  if (u === 'node:dgram' || (u === '' && /send|Send/.test(n))) return 'dgram';
  if (u.startsWith('node:net') || u.startsWith('node:internal/stream') || u.startsWith('node:internal/streams') || n === 'writev' || n === 'writeBuffer' || n === 'writeUtf8String') return 'net/stream';
  if (u.includes('crypto') || /Hmac|Cipher|Decipher|hmac|digest|update|final/.test(n)) return 'crypto';
  if (n === 'parse' || n === 'stringify') return 'JSON';
  if (u.includes('/protocol/rudp/')) return 'rudp';
  if (u.includes('/protocol/')) return 'codec';
  if (u.includes('/server/')) return 'server';
  if (u.includes('/client/')) return 'client (TS)';
  if (u.includes('/bench/')) return 'bench bots';
  if (u.startsWith('node:internal/timers') || n === 'processTimers' || n === 'listOnTimeout' || n === 'setTimeout' || n === 'clearTimeout') return 'timers';
  if (u.startsWith('node:')) return 'node other';
  return u === '' ? 'native/builtin' : 'other';
}

/** Inclusive time through these frames (a sample counts once per phase). */
const PHASES: Record<string, RegExp> = {
  'offline notice': /^announceOffline /,
  'hand off (migrate request)': /^handOff node-base|^migrate handoff/,
  'careful close / FIN': /^closeGracefully |^departed |^onTerminate /,
  'claim check': /^checkClaim |^claimHandoff |^claim handoff|^acceptClaim /,
  'stream entry (adopt, marker)': /^handle redis-store|^adoptSession |^adoptPending /,
  'adopt from store (SYN first)': /^adoptFromStore /,
  'requests served': /^handle (udp-node|tcp-connection)|^dispatchRequest /,
  'datagrams in': /^onMessage udp-node/,
  'flush out': /^flushSoon |^flush server-session/,
  'session timers': /^tickAfterRead |^tick server-session/,
  'TCP link data': /^onData tcp-connection|^onConnection tcp-node/,
  'redis socket read': /^onData DataHandler|^returnReply |^execute /,
  'redis command write': /^sendCommand Redis/,
  'phase log': /^log node-command/,
  'rooms script': /^session redis-rooms/,
  'dgram send': /^doSend /,
  'gc': /^\(garbage collector\)/,
};
function profilesByPid(dir: string): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const f of fs.readdirSync(dir)) {
    const pid = Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1]);
    if (!Number.isFinite(pid)) continue;
    m.set(pid, [...(m.get(pid) ?? []), path.join(dir, f)]);
  }
  return m;
}

/** `--under PHASE`: the leaf frames inside one phase of PHASES. */
const UNDER = process.argv.includes('--under') ? process.argv[process.argv.indexOf('--under') + 1] : undefined;

/** `--callers NAME`: the call paths (4 frames up) of leaf frames named NAME. */
const CALLERS = process.argv.includes('--callers') ? process.argv[process.argv.indexOf('--callers') + 1] : undefined;

function analyse(file: string, w: [number, number]): { totalMs: number; cats: Map<string, number>; phases: Map<string, number>; fns: Map<string, number>; callers: Map<string, number>; under: Map<string, number> } {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cats = new Map<string, number>();
  const phases = new Map<string, number>();
  const fns = new Map<string, number>();
  const callers = new Map<string, number>();
  const under = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
  let t = p.startTime;
  let totalMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < w[0] || t > w[1]) continue;
    // A sample stands for the time until the next one.
    const ms = (p.timeDeltas[i + 1] ?? dt) / 1000;
    const leaf = byId.get(p.samples[i] as number);
    if (leaf === undefined || leaf.callFrame.functionName === '(idle)') continue;
    totalMs += ms;
    add(cats, category(leaf.callFrame), ms);
    add(fns, `${leaf.callFrame.functionName || '(anon)'} ${path.basename(leaf.callFrame.url)}:${leaf.callFrame.lineNumber + 1}`, ms);
    const hit = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const f = (byId.get(id) as ProfNode).callFrame;
      const label = `${f.functionName} ${path.basename(f.url).replace(/\.js$/, '')}`;
      for (const [ph, re] of Object.entries(PHASES)) if (re.test(label)) hit.add(ph);
    }
    for (const ph of hit) add(phases, ph, ms);
    if (UNDER !== undefined && hit.has(UNDER)) add(under, `${leaf.callFrame.functionName || '(anon)'} ${path.basename(leaf.callFrame.url)}`, ms);
    if (CALLERS !== undefined && leaf.callFrame.functionName === CALLERS) {
      const chain: string[] = [];
      for (let id = parent.get(leaf.id); id !== undefined && chain.length < 4; id = parent.get(id)) {
        const f = (byId.get(id) as ProfNode).callFrame;
        if (!f.url.startsWith('node:') && f.url !== '') chain.push(`${f.functionName || '(anon)'} ${path.basename(f.url)}`);
      }
      add(callers, chain.join(' < '), ms);
    }
  }
  return { totalMs, cats, phases, fns, callers, under };
}

function main(): void {
  const [resultFile, dir] = process.argv.slice(2);
  if (resultFile === undefined || dir === undefined) throw new Error('usage: profile-window.js RESULT.json PROFILE_DIR [--top N]');
  const top = Number(process.argv[process.argv.indexOf('--top') + 1]) || 12;
  const runs = (JSON.parse(fs.readFileSync(resultFile, 'utf8')) as { runs: Run[] }).runs;
  const files = profilesByPid(dir);
  for (const r of runs) {
    if (r.moveWindowMonoUs === undefined || r.pids === undefined) continue;
    const moved = r.rows.reduce((a, x) => a + x.moved, 0);
    console.log(`\n== ${r.spec.mode} ${r.spec.path} ${r.spec.clients}+${r.spec.clients} pacing ${r.spec.pacing ?? 'on'}: ${moved} moved, window ${((r.moveWindowMonoUs[1] - r.moveWindowMonoUs[0]) / 1000).toFixed(0)} ms; sampled CPU in us per moved client`);
    for (const [name, pid] of Object.entries(r.pids)) {
      for (const f of files.get(pid) ?? []) {
        const a = analyse(f, r.moveWindowMonoUs);
        const per = (ms: number): string => ((ms * 1000) / moved).toFixed(0);
        const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((x, y) => y[1] - x[1]);
        console.log(`-- ${name} (pid ${pid}): ${per(a.totalMs)} us/move`);
        console.log(`   by category: ${sorted(a.cats).map(([k, v]) => `${k} ${per(v)}`).join(', ')}`);
        console.log(`   by phase (inclusive): ${sorted(a.phases).map(([k, v]) => `${k} ${per(v)}`).join(', ')}`);
        console.log(`   top self: ${sorted(a.fns).slice(0, top).map(([k, v]) => `${k} ${per(v)}`).join('; ')}`);
        if (UNDER !== undefined && a.under.size > 0) console.log(`   inside ${UNDER}: ${sorted(a.under).slice(0, 20).map(([k, v]) => `${k} ${per(v)}`).join('; ')}`);
        if (CALLERS !== undefined) for (const [k, v] of sorted(a.callers).slice(0, 6)) console.log(`   ${CALLERS} < ${k}: ${per(v)}`);
        if (r.steadyWindowMonoUs !== undefined) {
          // Streaming goes on through the moves: its cost per answer in the window before the OFFLINE
          // call, times the move window's answers (a storm stalls streaming; paced moves do not).
          const s = analyse(f, r.steadyWindowMonoUs);
          const aw = r.answersInWindows;
          const scale = aw !== undefined && aw.steady > 0 ? aw.move / aw.steady : (r.moveWindowMonoUs[1] - r.moveWindowMonoUs[0]) / (r.steadyWindowMonoUs[1] - r.steadyWindowMonoUs[0]);
          const less = (m: Map<string, number>, b: Map<string, number>): [string, number][] =>
            [...m].map(([k, v]): [string, number] => [k, v - scale * (b.get(k) ?? 0)]).sort((x, y) => y[1] - x[1]);
          console.log(`   less streaming: ${per(a.totalMs - scale * s.totalMs)} us/move; by category: ${less(a.cats, s.cats).map(([k, v]) => `${k} ${per(v)}`).join(', ')}`);
          console.log(`   less streaming, top self: ${less(a.fns, s.fns).slice(0, top).map(([k, v]) => `${k} ${per(v)}`).join('; ')}`);
        }
      }
    }
  }
}

main();
