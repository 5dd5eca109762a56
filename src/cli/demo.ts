/**
 * `demo` (and `npm start`): the live migration demo on the embedded cluster. Two TCP and two UDP
 * nodes in this process, bots streaming sequenced reliable messages (2/4) and receiving a push
 * stream (2/6); a few seconds in, one node of each type goes offline and its bots migrate.
 * The report shows that nothing was lost or duplicated across the move.
 */
import { startCluster } from '../server';
import { benchComparison } from './bench-comparison';
import type { MigrationMode } from './bot';
import { Progress } from './progress';
import { RoomBots } from './room-bots';
import { buildReport, printReport, type Report } from './report';
import { missingTransports, startSwarm, type Mix } from './swarm';

export interface DemoOptions {
  mix: Mix;
  durationMs: number;
  /** Nodes to take offline; empty = none (no migration). */
  offline: string[];
  offlineAfterMs: number;
  migration: MigrationMode;
  encryption: boolean;
  /** Members per room (0 = no rooms). */
  rooms: number;
  rate: number;
  connectRate: number;
  json: boolean;
}

const PUSH_INTERVAL_MS = 100;
const ROOM_BROADCAST_MS = 100;

/** Runs the demo, prints the report, returns it (the caller sets the exit code from `ok`). */
export async function runDemo(opts: DemoOptions): Promise<Report> {
  // Notes and progress go to stderr, so they stay on with --json (stdout holds only the JSON).
  const progress = new Progress(false);
  const mix = { ...opts.mix };
  const missing = missingTransports(mix);
  if (mix.udp > 0 && missing.length > 0) {
    // Degrade rather than fail: the TCP half of the demo still shows the migration.
    progress.note(`${missing.join('; ')}: running all ${mix.tcp + mix.udp} bots over TCP`);
    mix.tcp += mix.udp;
    mix.udp = 0;
  }
  const cluster = await startCluster({ tcpNodes: 2, udpNodes: 2, encryption: opts.encryption, shutdownTimeoutMs: 60_000 });
  const timers: NodeJS.Timeout[] = [];
  try {
    progress.note(`cluster up: entry ${cluster.entryUrl}, nodes ${cluster.nodes.map((n) => n.id).join(', ')}`);
    const offline = opts.offline.filter((id) => {
      const node = cluster.nodes.find((n) => n.id === id);
      if (node === undefined) throw new Error(`--offline: unknown node ${id} (nodes: ${cluster.nodes.map((n) => n.id).join(', ')})`);
      return node.type === 'TCP' ? mix.tcp > 0 : mix.udp > 0;  // no bots of that type: nothing to show
    });
    const stop = new AbortController();
    const rooms = opts.rooms > 0 ? new RoomBots({ size: opts.rooms, intervalMs: ROOM_BROADCAST_MS, total: mix.tcp + mix.udp }) : undefined;
    const swarm = startSwarm({
      entryUrl: cluster.entryUrl,
      mix,
      migration: opts.migration,
      stop: stop.signal,
      rate: opts.rate,
      window: 4,
      pushCount: Math.max(1, Math.floor(opts.durationMs / PUSH_INTERVAL_MS)),
      pushIntervalMs: PUSH_INTERVAL_MS,
      connectRate: opts.connectRate,
      manualMaxDelayMs: 500,
      uidPrefix: 'demo-',
      progress,
      rooms,
    });
    await swarm.connected;
    let expectedOffline: number | undefined;
    const offlineAfterMs = Math.min(opts.offlineAfterMs, Math.floor(opts.durationMs / 2));
    if (offline.length > 0) {
      timers.push(
        setTimeout(() => {
          const users = cluster.nodes.filter((n) => offline.includes(n.id)).map((n) => `${n.id} (${n.users} users)`);
          expectedOffline = cluster.nodes.filter((n) => offline.includes(n.id)).reduce((a, n) => a + n.users, 0);
          progress.note(`going offline: ${users.join(', ')}`);
          for (const id of offline) {
            cluster.setNodeState(id, 'offline').catch((err: unknown) => progress.note(`setNodeState ${id}: ${String(err)}`));
          }
        }, offlineAfterMs),
      );
    }
    timers.push(setTimeout(() => stop.abort(), opts.durationMs));
    const results = await swarm.results;
    const report = buildReport(results, { migration: opts.migration, expectedOffline, rooms: rooms?.report() });
    printReport(report, opts.json);
    if (!opts.json) console.log(`\n${benchComparison()}`);
    return report;
  } finally {
    for (const t of timers) clearTimeout(t);
    await cluster.stop();
  }
}
