/**
 * `diarkis-node node`: one realtime node (TCP or UDP) as its own process, sharing the cluster
 * through Redis. SIGTERM: the node goes OFFLINE (clients are told and migrate), and the process
 * exits once no session is left and the streams it produces (2/6) are done, or at the shutdown
 * timeout, whichever comes first.
 */
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_HANDOFF_TTL_MS, DEFAULT_MAX_PAYLOAD } from '../protocol';
import { realClock } from '../server/clock';
import { CommandRouter, registerSampleCommands } from '../server/commands';
import { nodeMessageHandler } from '../server/forward';
import { Handoffs, sessionAdopter } from '../server/handoff';
import type { RealtimeNode } from '../server/node';
import { RedisStore } from '../server/redis-store';
import { isRedisUrl, redactUrl } from '../server/redis-url';
import { RedisRooms } from '../server/rooms/redis-rooms';
import { emitWithRooms } from '../server/rooms/room-events';
import type { RoomNode } from '../server/rooms/room-migration';
import { TcpNode } from '../server/tcp-node';
import type { EmitFn } from '../server/types';
import { UdpNode } from '../server/udp-node';
import { DEFAULT_PACING_WINDOW } from '../server/offline-pacer';
import { startLagSampler, writeDiag } from './node-diag';
import { botType, offlinePacing, port, positiveInt } from './options';

function extraPorts(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 63) throw new InvalidArgumentError('must be an integer 0..63.');
  return n;
}

export function redisUrl(value: string): string {
  if (!isRedisUrl(value)) throw new InvalidArgumentError('must be a redis:// or rediss:// URL.');
  return value;
}

/** One JSON line per event on stdout: what scripts (and the tests) read. */
export function say(event: string, info: Record<string, unknown> = {}): void {
  if (later.length > 0) flushLater();
  process.stdout.write(`${JSON.stringify({ event, ...info })}\n`);
}

/**
 * Lines written once per event-loop turn: a migration storm makes hundreds of 'handoff' lines in
 * a turn, and a stdout pipe is written synchronously (one system call per line otherwise).
 */
let later: string[] = [];
function sayLater(event: string, info: Record<string, unknown> = {}): void {
  if (later.length === 0) setImmediate(flushLater);
  later.push(`${JSON.stringify({ event, ...info })}\n`);
}
function flushLater(): void {
  if (later.length === 0) return;
  const lines = later.join('');
  later = [];
  process.stdout.write(lines);
}

/** A store operation nobody awaited failed (e.g. Redis down): reported on stderr, not fatal. */
export function reportUnhandled(role: string): void {
  process.on('unhandledRejection', (err) => {
    console.error(`[${role}] operation failed: ${err instanceof Error ? err.message : String(err)}`);
  });
}

export interface NodeCommandOptions {
  type: 'TCP' | 'UDP';
  id?: string;
  host: string;
  port: number;
  publicHost?: string;
  redis: string;
  prefix: string;
  shutdownTimeout: number;
  handoffTtl: number;
  nodeTtl: number;
  /** PROTOCOL 10.2: how long an OFFLINE node waits for a room owner's 1/7 before moving the room. */
  roomGrace?: number;
  debugCommands?: boolean;
  /**
   * File to write a 'migration-phase' JSON line per phase of every migration to, at exit (kept in
   * memory meanwhile: a synchronous stdout pipe would stall the node while a reader lags).
   */
  logPhases?: string;
  logDiag?: string;
  /**
   * UDP: sockets beside the main one; TCP: extra listeners for migrating clients. Ephemeral ports,
   * registered with the node (default 0: a firewall or a container's port mapping would not know them).
   */
  extraPorts: number;
  /** OFFLINE notices: the window, or false for all at once (NodeBaseOptions.offlinePacing). */
  offlinePacing?: number | false | { window: number; drainMs: number };
}

export async function runNodeCommand(o: NodeCommandOptions): Promise<void> {
  const wildcard = o.host === '0.0.0.0' || o.host === '::';
  if (wildcard && o.publicHost === undefined) throw new Error(`--host ${o.host} needs --public-host (the address clients connect to)`);
  reportUnhandled('node');
  const id = o.id ?? `${o.type.toLowerCase()}-${hostname()}-${process.pid}`;
  const store = await RedisStore.connect({
    url: o.redis,
    prefix: o.prefix,
    nodeTtlMs: o.nodeTtl,
    advertiseHost: o.publicHost,
    onError: (op, err) => console.error(`[node ${id}] redis ${op}: ${err.message}`),
  });

  // Streams (2/6) scheduled here keep running after their user moves: they route through Redis.
  // A stream step is either a timer or a push on its way (which schedules the next step).
  const timers = new Set<NodeJS.Timeout>();
  let pushing = 0;
  let check = (): void => undefined;
  const router = new CommandRouter();
  registerSampleCommands(router, {
    routePush: (uid, ver, cmd, payload) => {
      pushing++;
      return store
        .routePush(uid, ver, cmd, payload)
        .catch((err: Error) => {
          console.error(`[node ${id}] push to ${uid} failed (stream ended): ${err.message}`);
          return false;
        })
        .finally(() => {
          pushing--;
          // After the caller's then (which may schedule the next step).
          setImmediate(() => check());
        });
    },
    schedule: (ms, fn) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
        check();
      }, ms);
      timers.add(t);
    },
  });
  // Kept as objects: JSON per phase only at exit, off the migration's CPU (bench instrumentation).
  const phases: unknown[] = [];
  const lag = o.logDiag === undefined ? null : startLagSampler();
  const log: EmitFn = (event, info) => {
    if (event === 'handoff' || event === 'session-close') setImmediate(() => check());
    if (event === 'handoff') sayLater(event, { ...info });
    else if (event === 'handoff-expired' || event === 'node-state' || event === 'roomMigrated') say(event, { ...info, held: undefined });
    if (event === 'store-error') console.error(`[node ${id}] ${String((info as { op: string }).op)}: ${String((info as { error: unknown }).error)}`);
    if (event === 'migration-phase' && o.logPhases !== undefined) phases.push(info);
  };
  const nodes = new Map<string, RealtimeNode>();
  // Rooms live in Redis: members on any node process; a room moves to a node of any process.
  const rooms = new RedisRooms({ store, nodes: nodes as unknown as ReadonlyMap<string, RoomNode>, clock: realClock, emit: log, graceMs: o.roomGrace });
  const emit = emitWithRooms(rooms, log);
  const handoffs = new Handoffs({ store, nodes, ttlMs: o.handoffTtl, clock: realClock, emit });
  const common = { id, host: o.host, store, router, emit, maxPayload: DEFAULT_MAX_PAYLOAD, exposeDebugCommands: o.debugCommands === true };
  // Both transports take the handoff module: a migration may go to a node of another process.
  const transport = { ...common, port: o.port, shutdownTimeoutMs: o.shutdownTimeout, handoffs, rooms, ...(o.offlinePacing !== undefined ? { offlinePacing: o.offlinePacing } : {}) };
  const node = o.type === 'TCP' ? new TcpNode({ ...transport, claimListeners: o.extraPorts }) : new UdpNode({ ...transport, sockets: 1 + o.extraPorts });
  nodes.set(id, node);
  store.setSessionAdopter(id, sessionAdopter(node));
  store.setNodeMessageHandler(id, nodeMessageHandler(node, rooms));
  try {
    await handoffs.start();
    await node.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  say('ready', { role: 'node', id, type: o.type, host: o.publicHost ?? o.host, port: node.port, ports: node.ports, store: redactUrl(o.redis) });

  let shutting = false;
  const done = new Promise<string>((resolve) => {
    const shutdown = (): void => {
      if (shutting) return;
      shutting = true;
      say('offline', { id, users: node.users });
      const timer = setTimeout(() => resolve('timeout'), o.shutdownTimeout);
      check = () => {
        if (node.users === 0 && timers.size === 0 && pushing === 0) {
          clearTimeout(timer);
          resolve('empty');
        }
      };
      node.setState('offline').then(check, (err: Error) => {
        console.error(`[node ${id}] could not write OFFLINE to Redis: ${err.message}`);
        check();
      });
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
  const reason = await done;
  for (const t of timers) clearTimeout(t);
  // The node is empty once its last member is handed off, before a room migration has ended.
  await rooms.idle();
  handoffs.stop();
  rooms.stop();
  await node.stop();
  await store.close();
  if (o.logPhases !== undefined) writeFileSync(o.logPhases, phases.map((l) => `${JSON.stringify(l)}\n`).join(''));
  if (lag !== null && o.logDiag !== undefined) {
    lag.stop();
    writeDiag(o.logDiag, lag.result());
  }
  say('exit', { id, reason });
}

export function addNodeCommand(program: Command): void {
  program
    .command('node')
    .description('run one realtime node as its own process, in a cluster coordinated through Redis')
    .addOption(new Option('--type <tcp|udp>', 'transport, either case').argParser(botType).default('TCP'))
    .option('--id <id>', 'node id, unique in the cluster (default <type>-<hostname>-<pid>)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', port, 0)
    .option('--public-host <address>', 'address clients and the entry server hand out (default: --host)')
    .option('--redis <url>', 'Redis URL (redis:// or rediss://, with user:password@ for AUTH)', redisUrl, 'redis://127.0.0.1:6379')
    .option('--prefix <prefix>', 'key prefix shared by the cluster in Redis', 'diarkis:')
    .option('--shutdown-timeout <ms>', 'after SIGTERM: how long clients have to migrate before they are cut', positiveInt, 10_000)
    .option('--handoff-ttl <ms>', 'how long a handed-off session waits for its claim', positiveInt, DEFAULT_HANDOFF_TTL_MS)
    .option('--node-ttl <ms>', 'liveness: a node not heard from for this long leaves the registry', positiveInt, 5000)
    .option('--room-grace <ms>', 'OFFLINE: how long a room waits for its owner to move it before the node does', positiveInt, 5000)
    .option('--debug-commands', 'serve debug commands 900-903')
    .option('--extra-ports <n>', 'UDP: sockets beside --port; TCP: listeners beside it, for migrating clients (ephemeral ports, registered with the node; clients are spread over all)', extraPorts, 0)
    .option('--offline-pacing <window|off|window/drainMs>', 'after SIGTERM: notify this many clients at a time, the next as earlier ones complete their move, every one within drainMs (default 1000) (off: all at once, PROTOCOL 7.1)', offlinePacing, DEFAULT_PACING_WINDOW)
    .option('--log-phases <file>', 'at exit, write the timestamps of every migration phase to <file> (JSON lines)')
    .option('--log-diag <file>', 'at exit, write the event-loop stalls and reliable-UDP resend counters to <file> (JSON; benchmarks)')
    .action(async (o: NodeCommandOptions) => {
      await runNodeCommand(o);
    });
}
