/**
 * `bots`: N bots against any cluster's entry URL (this program's `cluster`, or a real one that
 * serves the sample commands), with the demo's report, including the migrations that happened
 * while they ran (the cluster decides when a node goes offline).
 */
import type { MigrationMode } from './bot';
import { Progress } from './progress';
import { RoomBots } from './room-bots';
import { buildReport, printReport, type Report } from './report';
import { missingTransports, startSwarm, type Mix } from './swarm';

export interface BotsOptions {
  entryUrl: string;
  mix: Mix;
  /** Per bot; with durationMs, whichever comes first. */
  messages?: number;
  durationMs?: number;
  migration: MigrationMode;
  clientKey?: string;
  /** Members per room (0 = no rooms). */
  rooms: number;
  rate: number;
  connectRate: number;
  pushes: number;
  json: boolean;
}

const PUSH_INTERVAL_MS = 100;

export async function runBotsCommand(o: BotsOptions): Promise<Report> {
  const missing = missingTransports(o.mix);
  if (missing.length > 0) throw new Error(missing.join('; '));
  const progress = new Progress(false);  // stderr: stays on with --json
  const stop = new AbortController();
  const rooms = o.rooms > 0 ? new RoomBots({ size: o.rooms, intervalMs: 100, total: o.mix.tcp + o.mix.udp }) : undefined;
  const swarm = startSwarm({
    entryUrl: o.entryUrl,
    mix: o.mix,
    migration: o.migration,
    clientKey: o.clientKey,
    messages: o.messages,
    stop: stop.signal,
    rate: o.rate,
    window: 4,
    pushCount: o.pushes,
    pushIntervalMs: PUSH_INTERVAL_MS,
    connectRate: o.connectRate,
    manualMaxDelayMs: 500,
    uidPrefix: `bots-${process.pid}-`,
    progress,
    rooms,
  });
  let timer: NodeJS.Timeout | undefined;
  if (o.durationMs !== undefined) {
    const ms = o.durationMs;
    void swarm.connected.then(() => {
      timer = setTimeout(() => stop.abort(), ms);
    });
  }
  try {
    const results = await swarm.results;
    const report = buildReport(results, { migration: o.migration, rooms: rooms?.report() });
    printReport(report, o.json);
    return report;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
