/**
 * `diarkis-node entry`: the entry server (endpoint API) as its own process. It hands out ONLINE
 * nodes from the Redis registry (only those whose liveness is fresh) and registers each session
 * there; the chosen node adopts it through its push stream before the client connects.
 */
import { Command } from 'commander';
import { EntryServer } from '../server/entry';
import { RedisStore } from '../server/redis-store';
import { redactUrl } from '../server/redis-url';
import { port } from './options';
import { redisUrl, reportUnhandled, say } from './node-command';

export interface EntryCommandOptions {
  host: string;
  port: number;
  redis: string;
  prefix: string;
  encryption: boolean;
  clientKey?: string[];
}

export async function runEntryCommand(o: EntryCommandOptions): Promise<void> {
  reportUnhandled('entry');
  const store = await RedisStore.connect({
    url: o.redis,
    prefix: o.prefix,
    onError: (op, err) => console.error(`[entry] redis ${op}: ${err.message}`),
  });
  const entry = new EntryServer({
    host: o.host,
    port: o.port,
    store,
    encryption: o.encryption,
    clientKeys: o.clientKey,
    register: (_node, rec) => store.registerSession(rec),
    onError: (err) => console.error(`[entry] endpoint request failed (HTTP 500): ${err instanceof Error ? err.message : String(err)}`),
  });
  try {
    await entry.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  say('ready', { role: 'entry', url: entry.entryUrl, store: redactUrl(o.redis) });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await entry.stop();
  await store.close();
  say('exit', { role: 'entry' });
}

export function addEntryCommand(program: Command): void {
  program
    .command('entry')
    .description('run the entry server (endpoint API) as its own process, in a cluster coordinated through Redis')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 = any free port)', port, 7000)
    .option('--redis <url>', 'Redis URL (redis:// or rediss://, with user:password@ for AUTH)', redisUrl, 'redis://127.0.0.1:6379')
    .option('--prefix <prefix>', 'key prefix shared by the cluster in Redis', 'diarkis:')
    .option('--no-encryption', 'hand out no session keys; bodies in clear')
    .option('--client-key <key...>', 'accepted ClientKey values (default: any)')
    .action(async (o: EntryCommandOptions) => {
      await runEntryCommand(o);
    });
}
