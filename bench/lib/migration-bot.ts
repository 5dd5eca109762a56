/**
 * The migrating side of bench/migration: the same sequenced 2/4 stream as reconnect-bot.ts, on a
 * client with the default `migration: 'auto'`. The session, its user data and the requests made
 * while it moves go to the new node. Like the reconnect bot (which sends at once on its new
 * session), the bot sends its next request as soon as the move completes, so the move time
 * (offline event -> first answer by the new node) holds no idle wait on either path.
 */
import { getEndpoint } from '../../src';
import type { BaseClient } from '../../src';
import { clientClass, type BotType } from '../../src/cli/bot';
import { errorText as message, seqBody as u32, type StreamBotConfig, type StreamBotCounts } from './stream-bot';

export type MigrationBotConfig = StreamBotConfig;

export interface MigrationBotResult extends StreamBotCounts {
  migrated: boolean;
}


export async function runMigrationBot(cfg: MigrationBotConfig): Promise<MigrationBotResult> {
  const r: MigrationBotResult = {
    uid: cfg.uid, type: cfg.type, connected: false, error: null, sent: 0, answered: 0, lost: 0, duplicated: 0,
    migrated: false, userDataKept: false, offlineAt: null, movedAt: null, lastOldAnswerAt: null,
  };
  const Client = clientClass(cfg.type);
  if (Client === undefined) {
    r.error = `no ${cfg.type} client in this build`;
    return r;
  }
  const client: BaseClient = new Client({ migration: 'auto', requestTimeoutMs: 60_000 });
  let disconnected: string | null = null;
  let wake: (() => void) | null = null;
  client.on('error', () => { /* non-fatal drops are counted in stats() */ });
  client.on('disconnect', (reason, msg) => {
    disconnected = `${reason}: ${msg}`;
    wake?.();
  });
  client.on('offline', () => {
    r.offlineAt ??= performance.now();
    r.retransmitsAtOffline ??= client.stats().retransmits;
  });
  client.on('migrated', () => {
    r.migratedEpochMs ??= performance.timeOrigin + performance.now();
    r.migrated = true;
    wake?.();
  });
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (cfg.stop.aborted) return resolve();
      const done = (): void => {
        clearTimeout(t);
        cfg.stop.removeEventListener('abort', done);
        wake = null;
        resolve();
      };
      const t = setTimeout(done, ms);
      wake = done;
      cfg.stop.addEventListener('abort', done, { once: true });
    });

  try {
    await client.connect(await getEndpoint(cfg.entryUrl, { type: cfg.type, uid: cfg.uid }));
    r.connected = true;
    r.sid = client.sid;
    cfg.onConnected?.();
    const inFlight = new Set<Promise<void>>();
    let wasMigrated = false;
    while (!cfg.stop.aborted && disconnected === null) {
      if (r.migrated) wasMigrated = true;
      const seq = ++r.sent;
      if (cfg.tally !== undefined) cfg.tally.sent++;
      const p = client.request(2, 4, u32(seq)).then(
        (res) => {
          const now = performance.now();
          if (cfg.tally !== undefined) cfg.tally.answers++;
          if (res.status === 1 && res.payload.length === 4 && res.payload.readUInt32BE(0) === seq) r.answered++;
          // Answers after 'migrated' come from the new node (the old one answered before its migrate answer).
          if (r.migrated && r.movedAt === null) {
            r.movedAt = now;
            r.retransmitsAtMoved = client.stats().retransmits;
            cfg.onMoved?.();
          } else if (!r.migrated) r.lastOldAnswerAt = now;
        },
        (err: unknown) => {
          r.error ??= `request ${seq}: ${message(err)}`;
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= cfg.window) await Promise.race(inFlight);
      // The move just completed: send now (as the reconnect bot does on its new session).
      if (r.migrated && !wasMigrated) {
        wasMigrated = true;
        continue;
      }
      await pause(cfg.intervalMs);
    }
    await Promise.all(inFlight);
    if (disconnected !== null) throw new Error(`disconnected: ${String(disconnected)}`);
    const data = await client.request(2, 5, Buffer.alloc(0));
    const user = JSON.parse(data.payload.toString('utf8')) as { lastSeq?: number; gaps?: number; dups?: number };
    const lastSeq = user.lastSeq ?? 0;
    r.lost = Math.max((user.gaps ?? 0) + Math.max(0, r.sent - lastSeq), r.sent - r.answered);
    r.duplicated = user.dups ?? 0;
    r.userDataKept = lastSeq === r.sent;
    await client.close();
  } catch (err) {
    r.error ??= message(err);
    r.lost = Math.max(r.lost, r.sent - r.answered);
  } finally {
    client.destroy();
  }
  return r;
}
