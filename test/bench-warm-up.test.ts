// bench/migration --warm (issue 12, ninth session): the warm-up runs the measured path's steps on
// every node process (migration: each node hands off and claims; reconnect: sessions on the nodes),
// and the measured run counts only its own clients. Runs the compiled bench (dist/), nodes as
// processes on Redis, a few clients; no timing is asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, RedisServer } from './helpers/redis-server';
import type { RunResult, RunSpec } from '../bench/lib/migration-run';

type RunOnce = (spec: RunSpec, note: (s: string) => void) => Promise<RunResult>;
let runOnce: RunOnce;
let redis: RedisServer;
const CLIENTS = 4;
const WARM = 3;

beforeAll(async () => {
  ensureBuilt(['src', 'bench']);
  // The process cluster starts dist/src/cli/main.js relative to the module: the compiled bench.
  const dist = '../dist/bench/lib/migration-run.js';
  runOnce = ((await import(dist)) as { runOnce: RunOnce }).runOnce;
  redis = await RedisServer.start();
}, 120_000);

afterAll(async () => {
  await redis?.stop();
});

const spec = (path: 'migration' | 'reconnect', prefix: string): RunSpec => ({
  mode: 'processes', path, clients: CLIENTS, warm: WARM, intervalMs: 100, window: 4, connectRate: 400,
  redisUrl: redis.url, redisPid: redis.pid, prefix, nodeFlags: [], pacing: 'on',
});

const step = (r: RunResult, t: 'UDP' | 'TCP', name: string): number | undefined => r.phasesByTransport[t].find((p) => p.step === name)?.samples;

describe('bench/migration --warm', () => {
  it('migration: every node hands off and claims the warm-up clients; the measured counts are the measured clients only', async () => {
    const r = await runOnce(spec('migration', 'wm:'), () => undefined);
    const w = r.warmUp;
    expect(w?.errors).toBe(0);
    expect(w?.clientsPerType).toBe(WARM);
    expect(w?.moves).toBe(2 * WARM * 2);
    // There and back: each node is old node once and target once per warm-up client of its type.
    for (const id of ['udp-1', 'udp-2', 'tcp-1', 'tcp-2']) expect(w?.byNode[id]).toMatchObject({ asOld: WARM, asTarget: WARM });
    for (const row of r.rows) expect(row).toMatchObject({ connected: CLIENTS, moved: CLIENTS, lost: 0, duplicated: 0, errors: 0 });
    // The old node notified exactly the measured clients, and only their moves are in the breakdown.
    for (const t of ['UDP', 'TCP'] as const) {
      expect(step(r, t, 'offline-notice → notice-sent')).toBe(CLIENTS);
      expect(step(r, t, 'migrate-request → handoff-stored')).toBe(CLIENTS);
      expect(step(r, t, 'target-accepted → claim-checked')).toBe(CLIENTS);
    }
  });

  it('reconnect: the warm-up clients reconnect through the entry; the measured counts are the measured clients only', async () => {
    const r = await runOnce(spec('reconnect', 'wr:'), () => undefined);
    const w = r.warmUp;
    expect(w?.errors).toBe(0);
    expect(w?.moves).toBe(2 * WARM * 2);
    const sessions = (prefix: string): number => Object.entries(w?.byNode ?? {}).filter(([id]) => id.startsWith(prefix)).reduce((a, [, v]) => a + (v.sessions ?? 0), 0);
    // A first session and one per reconnect, all on the cluster's nodes.
    expect(sessions('udp-')).toBe(WARM * 3);
    expect(sessions('tcp-')).toBe(WARM * 3);
    for (const row of r.rows) expect(row).toMatchObject({ connected: CLIENTS, moved: CLIENTS, lost: 0, duplicated: 0, errors: 0 });
    expect(r.spec.warm).toBe(WARM);
  });

  it('warm 0 runs no warm-up (fresh nodes, as before the option)', async () => {
    const r = await runOnce({ ...spec('migration', 'w0:'), warm: 0 }, () => undefined);
    expect(r.warmUp).toBeUndefined();
    for (const row of r.rows) expect(row).toMatchObject({ connected: CLIENTS, moved: CLIENTS, lost: 0, duplicated: 0 });
  });
});
