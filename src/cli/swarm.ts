/**
 * Many bots at once, shared by `demo` and `bots`: connects spread over time (so a few hundred
 * bots do not burst the entry server and the nodes), progress while they connect and while they
 * migrate, and one result per bot.
 */
import { setMaxListeners } from 'node:events';
import { clientClass, emptyResult, runBot, type BotConfig, type BotResult, type BotType, type MigrationMode } from './bot';
import type { Progress } from './progress';
import type { RoomBots } from './room-bots';

export interface Mix {
  tcp: number;
  udp: number;
}

export interface SwarmOptions {
  entryUrl: string;
  mix: Mix;
  migration: MigrationMode;
  clientKey?: string;
  /** Per bot; undefined = until `stop` aborts. */
  messages?: number;
  stop?: AbortSignal;
  /** Sequenced messages per second per bot. */
  rate: number;
  window: number;
  pushCount: number;
  pushIntervalMs: number;
  /** New connections per second. */
  connectRate: number;
  /** Manual migration: sendMigrate() after a random delay up to this. */
  manualMaxDelayMs: number;
  uidPrefix: string;
  progress: Progress;
  /** Bots in rooms (`--rooms`, the demo). */
  rooms?: RoomBots;
}

export interface Swarm {
  /** Resolves when every bot has connected or failed to. */
  connected: Promise<void>;
  results: Promise<BotResult[]>;
}

export function missingTransports(mix: Mix): string[] {
  const missing: string[] = [];
  if (mix.tcp > 0 && clientClass('TCP') === undefined) missing.push('TCP bots need TcpClient');
  if (mix.udp > 0 && clientClass('UDP') === undefined) missing.push('UDP bots need UdpClient (not in this build yet)');
  return missing;
}

export function startSwarm(o: SwarmOptions): Swarm {
  // Every bot waits on the stop signal between sends: one listener per bot is expected.
  if (o.stop !== undefined) setMaxListeners(0, o.stop);
  const total = o.mix.tcp + o.mix.udp;
  // Interleave the types so both see the same phases of the run.
  const types: BotType[] = [];
  for (let t = 0, u = 0; t < o.mix.tcp || u < o.mix.udp; ) {
    if (t < o.mix.tcp && (t * o.mix.udp <= u * o.mix.tcp || u >= o.mix.udp)) {
      types.push('TCP');
      t++;
    } else {
      types.push('UDP');
      u++;
    }
  }
  const connecting = o.progress.phase('connect', total);
  let migrating: ReturnType<Progress['phase']> | null = null;
  let offline = 0;
  let moved = 0;
  const migratePhase = (): NonNullable<typeof migrating> => {
    if (migrating === null) {
      connecting.stop();
      migrating = o.progress.phase('migrate', 0);
    }
    return migrating;
  };
  let settled = 0;
  let resolveConnected: () => void = () => undefined;
  const connected = new Promise<void>((resolve) => {
    resolveConnected = resolve;
  });
  const settle = (): void => {
    if (++settled === total) {
      connecting.stop();
      resolveConnected();
    }
  };
  if (total === 0) {
    connecting.stop();
    resolveConnected();
  }
  const spacingMs = 1000 / o.connectRate;
  const bots = types.map(async (type, i): Promise<BotResult> => {
    const cfg: BotConfig = {
      entryUrl: o.entryUrl,
      uid: `${o.uidPrefix}${type.toLowerCase()}-${i}`,
      type,
      migration: o.migration,
      clientKey: o.clientKey,
      messages: o.messages,
      stop: o.stop,
      intervalMs: 1000 / o.rate,
      window: o.window,
      pushCount: o.pushCount,
      pushIntervalMs: o.pushIntervalMs,
      manualDelayMs: () => Math.floor(Math.random() * (o.manualMaxDelayMs + 1)),
      onConnected: () => {
        connecting.increment();
        settle();
      },
      // The phase counts moves out of the bots told or moved: with paced notices a bot may move
      // before it is told (a room member handed off with its room).
      onOffline: () => {
        offline++;
        migratePhase().setTotal(Math.max(offline, moved));
      },
      onMigrated: () => {
        moved++;
        migratePhase().setTotal(Math.max(offline, moved));
        migrating?.increment();
      },
    };
    if (o.rooms !== undefined) {
      const rooms = o.rooms;
      cfg.room = (client, stop) => rooms.run(client, cfg.uid, i, stop);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.floor(i * spacingMs)));
    const r = await runBot(cfg).catch((err: unknown): BotResult => {
      const e = emptyResult(cfg);
      e.error = err instanceof Error ? err.message : String(err);
      return e;
    });
    if (!r.connected) settle();
    return r;
  });
  const results = Promise.all(bots).then((r) => {
    connecting.stop();
    (migrating as ReturnType<Progress['phase']> | null)?.stop();
    return r;
  });
  return { connected, results };
}
