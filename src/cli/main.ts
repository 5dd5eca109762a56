#!/usr/bin/env node
/**
 * The command-line program: `demo` (what `npm start` runs), `cluster`, `bots`, `node-state`,
 * `nodes`. Bad flags and values end with a message and exit code 1; `--help` on every command.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { packageRoot } from '../native';
import { DEFAULT_PACING_WINDOW } from '../server/offline-pacer';
import type { MigrationMode } from './bot';
import { runBotsCommand } from './bots-command';
import { runClusterCommand } from './cluster-command';
import { runDemo } from './demo';
import { addEntryCommand } from './entry-command';
import { addNodeCommand } from './node-command';
import { runNodes, runNodeState } from './node-state-command';
import {
  botType, migrationMode, mixWeights, nodeState, nonNegativeInt, offlinePacing, port, positiveInt, positiveNumber, resolveMix,
} from './options';
import type { Mix } from './swarm';

interface MixFlags {
  bots: number;
  mix?: Mix;
  tcp?: number;
  udp?: number;
  type?: 'TCP' | 'UDP';
}

function addBotFlags(cmd: Command, defaultBots: number): Command {
  return cmd
    .option('-b, --bots <n>', 'number of bots', positiveInt, defaultBots)
    .option('--mix <weights>', 'shares of TCP and UDP bots, e.g. tcp=50,udp=50', mixWeights)
    .option('--tcp <n>', 'TCP bot count (with --udp, instead of --bots/--mix)', nonNegativeInt)
    .option('--udp <n>', 'UDP bot count (with --tcp, instead of --bots/--mix)', nonNegativeInt)
    .addOption(new Option('--migration <mode>', "'auto': the client migrates itself; 'manual': the bot calls sendMigrate() 0-500 ms after 'offline'").argParser(migrationMode).default('auto'))
    .option('--rate <n>', 'sequenced messages per second per bot', positiveNumber, 20)
    .option('--connect-rate <n>', 'new connections per second (spreads connects)', positiveNumber, 200)
    .option('--json', 'print the report as JSON on stdout (progress and notes stay on stderr)');
}

function checkCounts(mix: Mix): Mix {
  if (mix.tcp + mix.udp === 0) throw new Error('no bots: --tcp and --udp are both 0');
  return mix;
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('diarkis-node')
    .description('Drive Diarkis-style realtime game servers from Node.js: live migration demo, reference cluster, bots')
    .version(packageVersion(), '-V, --version', 'print the version of diarkis-node')
    .showHelpAfterError()
    .exitOverride();

  addBotFlags(
    program.command('demo').description('live migration demo: embedded cluster (2 TCP + 2 UDP nodes), bots, one node of each type goes offline'),
    200,
  )
    .option('-d, --duration <seconds>', 'how long the bots stream', positiveNumber, 8)
    .option('--offline-after <seconds>', 'when the nodes go offline (after every bot connected; at most half the duration)', positiveNumber, 3)
    .option('--offline <ids>', "nodes that go offline, comma-separated, or 'none' (no migration)", 'tcp-1,udp-1')
    .option('--no-encryption', 'switch encryption off cluster-wide')
    .option('--rooms <size>', 'bots in rooms of this many members, broadcasting (0 = no rooms)', nonNegativeInt, 6)
    .action(async (o: MixFlags & { migration: MigrationMode; rate: number; connectRate: number; json?: boolean; duration: number; offlineAfter: number; offline: string; encryption: boolean; rooms: number }) => {
      const report = await runDemo({
        mix: checkCounts(resolveMix(o, { tcp: 1, udp: 1 })),
        durationMs: Math.round(o.duration * 1000),
        offline: o.offline === 'none' ? [] : o.offline.split(',').map((s) => s.trim()).filter((s) => s !== ''),
        offlineAfterMs: Math.round(o.offlineAfter * 1000),
        migration: o.migration,
        encryption: o.encryption,
        rooms: roomSize(o.rooms),
        rate: o.rate,
        connectRate: o.connectRate,
        json: o.json === true,
      });
      process.exitCode = report.ok ? 0 : 1;
    });

  program
    .command('cluster')
    .description('run the embedded reference cluster in the foreground, with an admin endpoint, until Ctrl-C/SIGTERM')
    .option('--tcp <n>', 'TCP nodes', nonNegativeInt, 1)
    .option('--udp <n>', 'UDP nodes', nonNegativeInt, 1)
    .option('--host <address>', 'address the entry server and nodes listen on', '127.0.0.1')
    .option('--no-encryption', 'hand out no session keys; bodies in clear')
    .option('--shutdown-timeout <ms>', 'how long an OFFLINE node keeps serving before it cuts its clients', positiveInt, 10_000)
    .option('--offline-pacing <window|off|window/drainMs>', 'OFFLINE: notify this many clients at a time, the next as earlier ones complete their move, every one within drainMs (default 1000) (off: all at once)', offlinePacing, DEFAULT_PACING_WINDOW)
    .option('--admin-host <address>', 'address of the admin endpoint', '127.0.0.1')
    .option('--admin-port <port>', 'port of the admin endpoint (0 = any free port)', port, 0)
    .option('--client-key <key...>', 'accepted ClientKey values (default: any)')
    .action(async (o: { tcp: number; udp: number; host: string; encryption: boolean; shutdownTimeout: number; offlinePacing: number | false | { window: number; drainMs: number }; adminHost: string; adminPort: number; clientKey?: string[] }) => {
      if (o.tcp + o.udp === 0) throw new Error('a cluster needs at least one node: --tcp and --udp are both 0');
      await runClusterCommand({
        tcp: o.tcp, udp: o.udp, host: o.host, encryption: o.encryption, shutdownTimeoutMs: o.shutdownTimeout, offlinePacing: o.offlinePacing,
        adminHost: o.adminHost, adminPort: o.adminPort, clientKeys: o.clientKey ?? [],
      });
    });

  addBotFlags(
    program.command('bots').description("run bots against a cluster's entry URL and report what crossed any migration"),
    10,
  )
    .requiredOption('-e, --entry <url>', 'entry URL of the cluster (printed by `diarkis-node cluster`)')
    .addOption(new Option('--type <tcp|udp>', 'all bots of one transport (either case)').argParser(botType))
    .option('-d, --duration <seconds>', 'stream for this long (default 10 unless --messages)', positiveNumber)
    .option('-m, --messages <n>', 'sequenced messages per bot', positiveInt)
    .option('--pushes <n>', 'pushes each bot subscribes to (2/6, one every 100 ms)', nonNegativeInt, 20)
    .option('--client-key <key>', 'ClientKey sent to the entry server (and to UDP nodes)')
    .option('--rooms <size>', 'bots in rooms of this many members, broadcasting (off by default)', nonNegativeInt, 0)
    .action(async (o: MixFlags & { migration: MigrationMode; rate: number; connectRate: number; json?: boolean; entry: string; duration?: number; messages?: number; pushes: number; clientKey?: string; rooms: number }) => {
      try {
        new URL(o.entry);
      } catch {
        throw new Error(`--entry: not a URL: ${o.entry}`);
      }
      const report = await runBotsCommand({
        entryUrl: o.entry,
        mix: checkCounts(resolveMix(o, { tcp: 1, udp: 0 })),
        messages: o.messages,
        durationMs: o.duration !== undefined ? Math.round(o.duration * 1000) : o.messages === undefined ? 10_000 : undefined,
        migration: o.migration,
        clientKey: o.clientKey,
        rate: o.rate,
        connectRate: o.connectRate,
        pushes: o.pushes,
        rooms: roomSize(o.rooms),
        json: o.json === true,
      });
      process.exitCode = report.ok ? 0 : 1;
    });

  program
    .command('node-state')
    .description("change a node's state through a running `cluster`'s admin endpoint")
    .requiredOption('-a, --admin <url>', 'admin URL (printed by `diarkis-node cluster`)')
    .argument('<id>', 'node id, e.g. tcp-1')
    .argument('<state>', 'online, taken or offline', nodeState)
    .action(async (id: string, state: string, o: { admin: string }) => {
      await runNodeState(o.admin, id, state);
    });

  program
    .command('nodes')
    .description("list a running `cluster`'s nodes through its admin endpoint")
    .requiredOption('-a, --admin <url>', 'admin URL')
    .option('--json', 'print JSON')
    .action(async (o: { admin: string; json?: boolean }) => {
      await runNodes(o.admin, o.json === true);
    });

  addEntryCommand(program);
  addNodeCommand(program);

  return program;
}

/** --rooms: 0 = none; a room needs 2 members at least. */
function roomSize(n: number): number {
  if (n === 1) throw new Error('--rooms: a room needs at least 2 members (0 = no rooms)');
  return n;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number') {
      process.exitCode = code;  // commander has printed the message (or the help)
      return;
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
