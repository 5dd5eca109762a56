/**
 * One chaos client: a native client (manual migration, so the application holds the migration's
 * promise and its handed-back requests) streaming sequenced reliable requests (2/4) with a window.
 * When its session ends it records what became of every message (ledger.ts), asks the entry
 * server for a new endpoint and starts a new session, until the run stops.
 */
import { getEndpoint, TcpClient, UdpClient, type BaseClient, type DiarkisError, type MigrationFailureDetails } from '../../src/client';
import { SessionLedger, type EndCause, type LedgerTotals } from './ledger';

export interface ChaosClientConfig {
  entryUrl: string;
  uid: string;
  type: 'TCP' | 'UDP';
  intervalMs: number;
  window: number;
  stop: AbortSignal;
  /** What struck the node on this port that the session reached at `since` (Date.now()), if anything. */
  causeOf(port: number, since: number): EndCause | null;
  totals: LedgerTotals;
  /** uid -> the port of the node holding its session now (strikes pick a client's node). */
  where: Map<string, number>;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

export async function runChaosClient(cfg: ChaosClientConfig): Promise<void> {
  while (!cfg.stop.aborted) {
    let client: BaseClient | null = null;
    try {
      const ep = await getEndpoint(cfg.entryUrl, { type: cfg.type, uid: cfg.uid, timeoutMs: 3000 });
      client = cfg.type === 'TCP' ? new TcpClient({ migration: 'manual' }) : new UdpClient({ migration: 'manual' });
      await client.connect(ep);
      await runSession(client, ep.serverPort, cfg);
    } catch {
      // No endpoint yet (a struck node still listed), or its node refused/vanished: try again.
      client?.destroy();
      await delay(100);
    }
  }
}

async function runSession(client: BaseClient, firstPort: number, cfg: ChaosClientConfig): Promise<void> {
  const ledger = new SessionLedger();
  let port = firstPort;
  let since = Date.now();
  cfg.where.set(cfg.uid, port);
  const handedBack: number[] = [];
  let migration: Promise<void> = Promise.resolve();
  client.on('offline', () => {
    migration = client.sendMigrate().then(
      (info) => {
        port = portOf(info.to);
        since = Date.now();
        cfg.where.set(cfg.uid, port);
        cfg.totals.migrations++;
      },
      (err: DiarkisError) => {
        cfg.totals.migrationFailures++;
        const details = err.details as MigrationFailureDetails | undefined;
        for (const u of details?.unsent ?? []) {
          if (u.ver === 2 && u.cmd === 4 && u.payload.length === 4) handedBack.push(u.payload.readUInt32BE(0));
        }
      },
    );
  });
  let closed = false;
  const ended = new Promise<void>((r) =>
    client.once('disconnect', () => {
      closed = true;
      r();
    }),
  );
  const inflight = new Set<Promise<void>>();
  let seq = 0;
  let lastAnswered = 0;
  while (!cfg.stop.aborted && !closed) {
    if (inflight.size >= cfg.window) {
      await Promise.race([...inflight, ended]);
      continue;
    }
    const n = ++seq;
    ledger.sent(n);
    const p: Promise<void> = client.request(2, 4, u32(n)).then(
      (r) => {
        ledger.answered(n, r.payload.readUInt32BE(0));
        lastAnswered = Math.max(lastAnswered, n);
      },
      (err: DiarkisError) => {
        cfg.totals.rejections[err.code] = (cfg.totals.rejections[err.code] ?? 0) + 1;
      },
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    await Promise.race([delay(cfg.intervalMs), ended]);
  }
  // Bounded: an answer that never comes is a loss, not a hang.
  await Promise.race([Promise.all([...inflight]), ended, delay(15_000)]);
  if (!closed) {
    try {
      // The node's own view across every migration of this session (PROTOCOL: user data moves).
      const d = JSON.parse((await client.request(2, 5)).payload.toString('utf8')) as Record<string, number>;
      cfg.totals.nodeGaps += d.gaps ?? 0;
      cfg.totals.nodeDups += d.dups ?? 0;
      if ((d.lastSeq ?? 0) !== lastAnswered || ledger.inFlight !== 0) cfg.totals.nodeMismatches++;
      await client.close();
    } catch {
      // ended meanwhile: accounted below as that end
    }
  }
  await ended;
  await migration;
  await Promise.all([...inflight]);
  cfg.where.delete(cfg.uid);
  const struck = cfg.causeOf(port, since);
  const cause: EndCause = struck ?? (cfg.stop.aborted ? 'run-end' : 'other');
  ledger.close(cause, handedBack, cfg.totals);
}
