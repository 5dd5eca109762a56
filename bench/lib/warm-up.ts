/**
 * bench/migration --warm and bench/move-cpu --warm (issue 12, ninth session): before the measured
 * storm, the cluster's node processes run the steps of the path being measured, so V8 has compiled
 * them (a real cluster's nodes are long-running; a fresh process compiles its datapath during the
 * storm). Both nodes of a type are ONLINE and the entry spreads the warm-up clients over them:
 * - migration: each client moves to the other node with sendMigrate() (an ONLINE node answers a
 *   migrate request: it hands off to the least loaded other ONLINE node), sends a request there,
 *   and moves back: each node acts `moves / 2` times per client as old node (handoff, answer,
 *   careful close) and as target (claim, adopt). The offline notices and their pacing are not run
 *   (the node is ONLINE): they are a small part of a move's CPU (bench/profile-window).
 * - reconnect: each client does the reconnect bot's steps `moves` times: close, ask the endpoint
 *   API, connect to the node it names, send a request (the entry, and each node's accept and close).
 * Then every warm-up client closes, and the warm-up ends when the nodes hold no user (the registry's
 * counts), so the measured node holds exactly the measured clients.
 */
import { getEndpoint } from '../../src';
import type { BaseClient, Endpoint } from '../../src';
import { clientClass, type BotType } from '../../src/cli/bot';
import { seqBody } from './stream-bot';

export interface WarmUpSpec {
  entryUrl: string;
  path: 'migration' | 'reconnect';
  /** Warm-up clients per transport. */
  clients: number;
  types: BotType[];
  /** Moves per client (migration: there and back is 2). */
  moves: number;
  /** Connections per second (as the measured clients connect). */
  connectRate: number;
  uidPrefix: string;
  /** Users the cluster's nodes hold (the registry's counts); the warm-up ends when it is 0. */
  users: () => Promise<number>;
  /** How long to wait for the users to leave (ms). */
  settleDeadlineMs?: number;
}

export interface WarmUpResult {
  path: 'migration' | 'reconnect';
  clientsPerType: number;
  movesPerClient: number;
  /** Moves made (migrations completed, or reconnects answered on the new session). */
  moves: number;
  /** Sessions the warm-up opened, by the address the entry named (reconnect: the nodes it ran on). */
  connectsByAddress: Record<string, number>;
  /** The warm-up clients' SIDs (migration: their phases are left out of the measured breakdown). */
  sids: string[];
  errors: number;
  firstError: string | null;
  /** The first connect to the nodes empty again; of which the wait for the registry to show no user. */
  durationMs: number;
  settleMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const where = (ep: Endpoint): string => `${ep.serverHost}:${ep.serverPort}`;
const text = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Polls `users()` until 0 (the nodes drop a closed session within a few loop turns). */
async function settle(users: () => Promise<number>, deadlineMs: number): Promise<void> {
  const end = performance.now() + deadlineMs;
  let left = await users();
  while (left > 0) {
    if (performance.now() > end) throw new Error(`warm-up: the nodes still hold ${left} user(s) after ${deadlineMs} ms`);
    await sleep(20);
    left = await users();
  }
}

export async function warmUp(spec: WarmUpSpec): Promise<WarmUpResult> {
  const r: WarmUpResult = {
    path: spec.path, clientsPerType: spec.clients, movesPerClient: spec.moves, moves: 0, connectsByAddress: {},
    sids: [], errors: 0, firstError: null, durationMs: 0, settleMs: 0,
  };
  const fail = (err: unknown): void => {
    r.errors++;
    r.firstError ??= text(err);
  };
  const t0 = performance.now();
  const total = spec.clients * spec.types.length;
  const spacingMs = 1000 / spec.connectRate;
  const open = async (type: BotType, uid: string): Promise<BaseClient> => {
    const Client = clientClass(type);
    if (Client === undefined) throw new Error(`no ${type} client in this build`);
    const ep = await getEndpoint(spec.entryUrl, { type, uid });
    const c = new Client({ migration: spec.path === 'migration' ? 'auto' : 'manual', requestTimeoutMs: 30_000 });
    c.on('error', () => undefined);
    await c.connect(ep);
    r.connectsByAddress[where(ep)] = (r.connectsByAddress[where(ep)] ?? 0) + 1;
    if (c.sid !== undefined) r.sids.push(c.sid);
    return c;
  };
  // Everyone connects first (at the measured clients' rate), then moves together: a storm, as measured.
  const opened = await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const type = spec.types[i % spec.types.length] as BotType;
      const uid = `${spec.uidPrefix}warm-${type.toLowerCase()}-${Math.floor(i / spec.types.length)}`;
      await sleep(Math.floor(i * spacingMs));
      try {
        const c = await open(type, uid);
        await c.request(2, 4, seqBody(1));
        return { c, type, uid };
      } catch (err) {
        fail(err);
        return null;
      }
    }),
  );
  const live = opened.filter((x): x is { c: BaseClient; type: BotType; uid: string } => x !== null);
  for (let m = 0; m < spec.moves; m++) {
    await Promise.all(
      live.map(async (x) => {
        try {
          if (spec.path === 'migration') {
            await x.c.sendMigrate();
            await x.c.request(2, 4, seqBody(m + 2));
          } else {
            // The reconnect bot's steps: leave the node, ask the entry, connect, send.
            await x.c.close();
            x.c.destroy();
            x.c = await open(x.type, x.uid);
            await x.c.request(2, 4, seqBody(1));
          }
          r.moves++;
        } catch (err) {
          fail(err);
        }
      }),
    );
  }
  await Promise.all(live.map((x) => x.c.close().catch(fail).finally(() => x.c.destroy())));
  const s0 = performance.now();
  await settle(spec.users, spec.settleDeadlineMs ?? 30_000);
  r.settleMs = performance.now() - s0;
  r.durationMs = performance.now() - t0;
  return r;
}

/**
 * A count the entry reads as users of a node (the registry's `users`, which the node's heartbeat
 * leaves alone): lent to a warm target while the measured clients connect, so the entry hands
 * them all to the old node, as in a cold run where the target has not joined yet. A node process
 * has no TAKEN state (it serves until SIGTERM), hence the count. Taken back when the target would
 * have joined.
 */
export const HOLD_USERS = 1_000_000;

/** The Redis registry of a cluster of node processes, as the bench reads and holds it. */
export interface Registry {
  node(id: string): Promise<{ id: string; port: number; ports?: number[]; users: number }>;
  lend(id: string, users: number): Promise<void>;
  close(): void;
}

export async function processRegistry(redisUrl: string, prefix: string): Promise<Registry> {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(redisUrl);
  return {
    node: async (id) => {
      const h = await redis.hgetall(`${prefix}node:${id}`);
      const ports = (h.ports ?? '').split(',').filter((x) => x !== '').map(Number);
      return { id, port: Number(h.port), users: Number(h.users ?? 0), ...(ports.length > 0 ? { ports } : {}) };
    },
    lend: async (id, users) => {
      await redis.hincrby(`${prefix}node:${id}`, 'users', users);
    },
    close: () => redis.disconnect(),
  };
}
