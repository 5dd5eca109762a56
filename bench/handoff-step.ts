/**
 * bench/handoff-step: the CPU of a move's migration-only steps in one warm process, per build
 * (issue 12). The steps run alone, one at a time (as a paced move runs them), on a real Redis:
 *  - hand off: `Handoffs.migrate` at the old node (target pick, handoff record and script, the wait
 *    for the old stream's marker), the old node's store in this process, the target's in another store;
 *  - claim: `claimHandoff` at the target (the script and its answer);
 *  - adopt: a `Session` built from a handed-off record (keys, cipher contexts, data).
 * Each build's code is loaded from its tree (dist/src/server/...), warmed with --warm steps, then
 * measured in blocks interleaved ABBA; process CPU (user + system) per step from process.cpuUsage.
 * Redis runs in its own process (not counted).
 *
 *   node dist/bench/handoff-step.js [--trees .,DIR] [--warm 3000] [--steps 500] [--rounds 4]
 */
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { RedisServer } from '../test/helpers/redis-server';

const argv = process.argv;
const arg = (n: string): string | undefined => (argv.includes(`--${n}`) ? argv[argv.indexOf(`--${n}`) + 1] : undefined);
const trees = (arg('trees') ?? '.').split(',');
const warm = Number(arg('warm') ?? 3000);
const steps = Number(arg('steps') ?? 500);
const rounds = Number(arg('rounds') ?? 4);

interface Build {
  tree: string;
  migrate(): Promise<{ sid: string; ticket: string }>;
  claim(sid: string, ticket: string): Promise<unknown>;
  adopt(): unknown;
}

let seq = 0;
function record(): { uid: string; sid: string; nodeId: string; key: string; iv: string; macKey: string; clientKey: string; data: Record<string, unknown> } {
  const k = randomBytes(64).toString('hex');
  const n = ++seq;
  return { uid: `u${n}`, sid: k.slice(0, 32), nodeId: 'old', key: k.slice(32, 64), iv: k.slice(64, 96), macKey: k.slice(96, 128), clientKey: 'ck', data: { counter: n, name: `user-${n}` } };
}

async function load(tree: string, url: string, i: number): Promise<Build> {
  const dist = path.resolve(tree === '.' ? path.join(__dirname, '..') : path.join(tree, 'dist'));
  const { RedisStore } = require(path.join(dist, 'src/server/redis-store.js'));
  const { Handoffs } = require(path.join(dist, 'src/server/handoff.js'));
  const { Session } = require(path.join(dist, 'src/server/session.js'));
  const prefix = `hs${i}:`;
  const old = await RedisStore.connect({ url, prefix });
  const target = await RedisStore.connect({ url, prefix });
  await old.registerNode({ id: 'old', type: 'UDP', host: '127.0.0.1', port: 1, state: 'online' });
  await target.registerNode({ id: 't1', type: 'UDP', host: '127.0.0.1', port: 2, state: 'online' });
  await old.subscribePushes('old', () => undefined);
  const from = { id: 'old', type: 'UDP', pacesOnClaims: true };
  const handoffs = new Handoffs({ store: old, nodes: new Map([['old', from]]), ttlMs: 30_000, clock: { now: () => Date.now(), setTimer: () => () => undefined }, emit: () => undefined });
  return {
    tree,
    async migrate() {
      const s = new Session(record());
      const t = await handoffs.migrate(from, s);
      if (t === null) throw new Error('no target');
      return { sid: s.sid, ticket: t.ticket.toString('hex') };
    },
    claim: (sid, ticket) => target.claimHandoff(sid, ticket),
    adopt: () => new Session(record()),
  };
}

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function block(b: Build, n: number): Promise<{ handOff: number; claim: number; adopt: number }> {
  const moved: { sid: string; ticket: string }[] = [];
  let handOff = 0;
  for (let i = 0; i < n; i++) {
    const t0 = cpuUs();
    moved.push(await b.migrate());
    handOff += cpuUs() - t0;
    // Its own turn, as a paced move's: nothing of this step is shared with the next.
    await new Promise((r) => setImmediate(r));
  }
  let claim = 0;
  for (const m of moved) {
    const t0 = cpuUs();
    const r = (await b.claim(m.sid, m.ticket)) as { ok: boolean };
    claim += cpuUs() - t0;
    if (!r.ok) throw new Error('claim refused');
    await new Promise((r2) => setImmediate(r2));
  }
  // The records are made outside the timing.
  const t0 = cpuUs();
  for (let i = 0; i < n; i++) b.adopt();
  const adopt = cpuUs() - t0;
  return { handOff: handOff / n, claim: claim / n, adopt: adopt / n };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  try {
    const builds: Build[] = [];
    for (const [i, t] of trees.entries()) builds.push(await load(t, redis.url, i));
    for (const b of builds) await block(b, warm);
    const res = new Map<string, { handOff: number[]; claim: number[]; adopt: number[] }>(builds.map((b) => [b.tree, { handOff: [], claim: [], adopt: [] }]));
    for (let r = 0; r < rounds; r++) {
      for (const b of r % 2 === 0 ? builds : [...builds].reverse()) {
        const x = await block(b, steps);
        const acc = res.get(b.tree);
        acc?.handOff.push(x.handOff);
        acc?.claim.push(x.claim);
        acc?.adopt.push(x.adopt);
        console.log(`round ${r + 1} ${b.tree}: hand off ${x.handOff.toFixed(1)} us, claim ${x.claim.toFixed(1)} us, adopt ${x.adopt.toFixed(1)} us per step (load ${loadavg()[0]?.toFixed(1)})`);
      }
    }
    console.log(`\nmedians of ${rounds} blocks of ${steps} steps after ${warm} warm-up steps, process CPU us per step:`);
    for (const [tree, x] of res) console.log(`  ${tree}: hand off ${median(x.handOff).toFixed(1)}, claim ${median(x.claim).toFixed(1)}, adopt ${median(x.adopt).toFixed(1)}`);
  } finally {
    await redis.stop();
    setTimeout(() => process.exit(0), 100).unref();
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
