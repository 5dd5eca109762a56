/**
 * One bot: connects through the entry server, subscribes to a push stream (2/6), streams
 * sequenced reliable requests (2/4), follows a live migration (auto, or manual with its own
 * delay) and measures what crossed it. The node's own view (2/5) is read at the end, so lost
 * and duplicated messages are counted where they would happen, not guessed from the client.
 */
import * as api from '../index';
import type { BaseClient, ClientOptions, Endpoint } from '../index';

export type BotType = 'TCP' | 'UDP';
export type MigrationMode = 'auto' | 'manual';

type ClientCtor = new (options?: ClientOptions & { clientKey?: string }) => BaseClient;

/** The client class for a transport; undefined when this build has no such client. */
export function clientClass(type: BotType): ClientCtor | undefined {
  // Looked up by name so the CLI builds and runs before UdpClient is exported.
  const exported = (api as Record<string, unknown>)[type === 'TCP' ? 'TcpClient' : 'UdpClient'];
  return typeof exported === 'function' ? (exported as ClientCtor) : undefined;
}

export interface BotConfig {
  entryUrl: string;
  uid: string;
  type: BotType;
  migration: MigrationMode;
  clientKey?: string;
  /** Stop after this many sequenced messages (and/or when `stop` aborts). */
  messages?: number;
  stop?: AbortSignal;
  /** Pause between two sequenced sends. */
  intervalMs: number;
  /** Sequenced requests in flight at most. */
  window: number;
  /** 2/6 subscription: how many pushes, one every pushIntervalMs (0 = none). */
  pushCount: number;
  pushIntervalMs: number;
  /** Manual migration: the delay between 'offline' and sendMigrate(). */
  manualDelayMs: () => number;
  /** Rooms (`--rooms`): the bot's room part, run beside its streams on the connected client. */
  room?: (client: BaseClient, stop?: AbortSignal) => Promise<void>;
  /** Progress hooks. */
  onConnected?: () => void;
  onOffline?: () => void;
  onMigrated?: () => void;
}

export interface BotResult {
  uid: string;
  type: BotType;
  connected: boolean;
  error: string | null;
  sent: number;
  answered: number;
  /** Answers whose sequence number was not the one the request carried. */
  wrongAnswers: number;
  /** Messages the node never saw or whose answer never came back. */
  lost: number;
  /** Messages the node saw twice. */
  duplicated: number;
  offline: boolean;
  migrations: number;
  from: string | null;
  to: string | null;
  tookMs: number | null;
  /** Last answer before the migration to the first after it. */
  gapMs: number | null;
  pushesExpected: number;
  pushesReceived: number;
  pushesDuplicated: number;
  pushesOutOfOrder: number;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** Resolves after `ms`, or at once when `signal` aborts. */
export const delay = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

const message = (err: unknown): string => {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
};

export function emptyResult(cfg: Pick<BotConfig, 'uid' | 'type' | 'pushCount'>): BotResult {
  return {
    uid: cfg.uid, type: cfg.type, connected: false, error: null,
    sent: 0, answered: 0, wrongAnswers: 0, lost: 0, duplicated: 0,
    offline: false, migrations: 0, from: null, to: null, tookMs: null, gapMs: null,
    pushesExpected: cfg.pushCount, pushesReceived: 0, pushesDuplicated: 0, pushesOutOfOrder: 0,
  };
}

export async function runBot(cfg: BotConfig): Promise<BotResult> {
  const r = emptyResult(cfg);
  const Client = clientClass(cfg.type);
  if (Client === undefined) {
    r.error = `${cfg.type} bots need ${cfg.type === 'TCP' ? 'TcpClient' : 'UdpClient'}, which this build does not export`;
    return r;
  }
  let client: BaseClient | undefined;
  try {
    const ep: Endpoint = await api.getEndpoint(cfg.entryUrl, { type: cfg.type, uid: cfg.uid, clientKey: cfg.clientKey });
    const options: ClientOptions & { clientKey?: string } = { migration: cfg.migration, requestTimeoutMs: 30_000 };
    if (cfg.type === 'UDP' && cfg.clientKey !== undefined) options.clientKey = cfg.clientKey;
    client = new Client(options);
    await stream(client, ep, cfg, r);
  } catch (err) {
    r.error ??= message(err);
  } finally {
    client?.destroy();
  }
  r.lost = Math.max(r.lost, r.sent - r.answered - r.wrongAnswers);
  return r;
}

async function stream(client: BaseClient, ep: Endpoint, cfg: BotConfig, r: BotResult): Promise<void> {
  let disconnected: string | null = null;
  let lastAnswerAt: number | null = null;
  let lastBeforeMigration: number | null = null;
  let migratedAt: number | null = null;
  let lastPush = 0;
  let pushesDone: (() => void) | null = null;

  client.on('error', () => { /* non-fatal drops are counted in stats() */ });
  client.on('disconnect', (reason, msg) => {
    disconnected = `${reason}: ${msg}`;
    pushesDone?.();
  });
  client.on('offline', () => {
    r.offline = true;
    cfg.onOffline?.();
    if (cfg.migration === 'manual') {
      setTimeout(() => {
        // In a room (DESIGN "Rooms"): the owner moves the room, the node moves the others.
        if (client.room.id !== undefined) {
          if (client.room.isOwner) client.room.migrate().catch(() => undefined);
          return;
        }
        client.sendMigrate().catch((err: unknown) => {
          r.error ??= `sendMigrate: ${message(err)}`;
        });
      }, cfg.manualDelayMs());
    }
  });
  client.on('migrated', (info) => {
    r.migrations++;
    r.from ??= info.from;
    r.to = info.to;
    r.tookMs = info.tookMs;
    // Events arrive in order, so every answer so far came from the old node.
    lastBeforeMigration = lastAnswerAt;
    migratedAt = Date.now();
    cfg.onMigrated?.();
  });
  client.on('push', (ver, cmd, payload) => {
    if (ver !== 2 || cmd !== 6 || payload.length !== 4) return;
    const n = payload.readUInt32BE(0);
    if (n <= lastPush) r.pushesDuplicated++;
    else {
      if (n !== lastPush + 1) r.pushesOutOfOrder++;
      lastPush = n;
      r.pushesReceived++;
    }
    if (r.pushesReceived >= cfg.pushCount) pushesDone?.();
  });

  await client.connect(ep);
  r.connected = true;
  cfg.onConnected?.();
  const pushesFinished = new Promise<void>((resolve) => {
    pushesDone = resolve;
  });
  if (cfg.pushCount > 0) {
    const sub = await client.request(2, 6, Buffer.concat([u32(cfg.pushCount), u32(cfg.pushIntervalMs)]));
    if (sub.status !== 1) throw new Error(`subscribe (2/6) answered status ${sub.status}`);
  }

  // The room part broadcasts as long as this bot streams (until `stop`, or its last message).
  const roomStop = new AbortController();
  if (cfg.stop?.aborted === true) roomStop.abort();
  cfg.stop?.addEventListener('abort', () => roomStop.abort(), { once: true });
  const roomDone = cfg.room?.(client, roomStop.signal).catch((err: unknown) => {
    r.error ??= `room: ${message(err)}`;
  });
  const inFlight = new Set<Promise<void>>();
  const limit = cfg.messages ?? Number.POSITIVE_INFINITY;
  while (r.sent < limit && cfg.stop?.aborted !== true && disconnected === null) {
    const seq = ++r.sent;
    const p = client.request(2, 4, u32(seq)).then(
      (res) => {
        const now = Date.now();
        if (res.status === 1 && res.payload.length === 4 && res.payload.readUInt32BE(0) === seq) r.answered++;
        else r.wrongAnswers++;
        if (migratedAt !== null && r.gapMs === null && lastBeforeMigration !== null) r.gapMs = now - lastBeforeMigration;
        lastAnswerAt = now;
      },
      (err: unknown) => {
        r.error ??= `request ${seq}: ${message(err)}`;
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= cfg.window) await Promise.race(inFlight);
    await delay(cfg.intervalMs, cfg.stop);
  }
  await Promise.all(inFlight);
  roomStop.abort();
  if (disconnected !== null) throw new Error(`disconnected: ${String(disconnected)}`);

  // The push stream runs on its own clock: wait for it (bounded by its schedule plus slack).
  if (cfg.pushCount > 0 && r.pushesReceived < cfg.pushCount) {
    const giveUp = new AbortController();
    await Promise.race([pushesFinished, delay(cfg.pushCount * cfg.pushIntervalMs + 10_000, giveUp.signal)]);
    giveUp.abort();  // clears the safety timer, which would otherwise hold the process open
  }
  await roomDone;
  if (disconnected !== null) throw new Error(`disconnected: ${String(disconnected)}`);

  const data = await client.request(2, 5, Buffer.alloc(0));
  const user = JSON.parse(data.payload.toString('utf8')) as { lastSeq?: number; gaps?: number; dups?: number };
  const lastSeq = user.lastSeq ?? 0;
  r.lost = (user.gaps ?? 0) + Math.max(0, r.sent - lastSeq);
  r.duplicated = user.dups ?? 0;
  await client.close();
}
