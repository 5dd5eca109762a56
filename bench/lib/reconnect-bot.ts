/**
 * The path users take without live migration, for bench/migration's baseline: the same sequenced
 * 2/4 stream as src/cli/bot.ts, but on 'offline' the bot lets the old node answer what it has,
 * disconnects, asks the endpoint API for a new node and opens a new session there. The new
 * session starts with empty user data, so the node's counter (lastSeq) restarts at 1.
 */
import { getEndpoint } from '../../src';
import type { BaseClient, Endpoint } from '../../src';
import { clientClass, type BotType } from '../../src/cli/bot';
import { errorText as message, seqBody as u32, type StreamBotConfig, type StreamBotCounts } from './stream-bot';

export interface ReconnectBotConfig extends StreamBotConfig {
  onOffline?: () => void;
  /** The new session is up (connect resolved on the new node). */
  onReconnected?: () => void;
}

export interface ReconnectBotResult extends StreamBotCounts {
  wrongAnswers: number;
  offline: boolean;
  reconnected: boolean;
  from: string | null;
  to: string | null;
  /** Last answer by the old node to the first answer by the new one. */
  gapMs: number | null;
  /** The new session's user data counts every message this user sent (false after a reconnect). */
  userDataKept: boolean;
}


/** Waits ms, or less: until the stop signal or `wake.fn()` (the 'offline' event ends the wait). */
const delay = (ms: number, signal: AbortSignal, wake: { fn: (() => void) | null }): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      wake.fn = null;
      resolve();
    };
    const t = setTimeout(done, ms);
    wake.fn = done;
    signal.addEventListener('abort', done, { once: true });
  });

const where = (ep: Endpoint): string => `${ep.serverHost}:${ep.serverPort}`;

export async function runReconnectBot(cfg: ReconnectBotConfig): Promise<ReconnectBotResult> {
  const r: ReconnectBotResult = {
    uid: cfg.uid, type: cfg.type, connected: false, error: null, sent: 0, answered: 0, wrongAnswers: 0,
    lost: 0, duplicated: 0, offline: false, reconnected: false, from: null, to: null, gapMs: null, userDataKept: false,
    offlineAt: null, movedAt: null, lastOldAnswerAt: null,
  };
  const Client = clientClass(cfg.type);
  if (Client === undefined) {
    r.error = `no ${cfg.type} client in this build`;
    return r;
  }
  let client: BaseClient | undefined;
  let disconnected: string | null = null;
  let lastAnswerAt: number | null = null;
  let lastOld: number | null = null;
  // A client we left on purpose: its own disconnect is not a failure of the run.
  let retired: BaseClient | null = null;
  // A user's client reacts to 'offline' when it comes, not at its next send (before, the bot
  // noticed it only after its send interval: up to --interval ms of idle time in each move).
  const wake: { fn: (() => void) | null } = { fn: null };

  // 'manual' and never sendMigrate(): this client does what a client without migration does.
  const open = async (): Promise<{ c: BaseClient; ep: Endpoint }> => {
    const ep = await getEndpoint(cfg.entryUrl, { type: cfg.type, uid: cfg.uid });
    const c = new Client({ migration: 'manual', requestTimeoutMs: 30_000 });
    c.on('error', () => { /* non-fatal drops are counted in stats() */ });
    c.on('disconnect', (reason, msg) => {
      if (c !== retired) disconnected = `${reason}: ${msg}`;
    });
    c.on('offline', () => {
      r.offlineAt ??= performance.now();
      r.offline = true;
      cfg.onOffline?.();
      wake.fn?.();
    });
    client = c;
    await c.connect(ep);
    return { c, ep };
  };

  try {
    const first = await open();
    r.connected = true;
    r.from = where(first.ep);
    cfg.onConnected?.();
    let session = 1;
    let sessionSent = 0;
    const inFlight = new Set<Promise<void>>();
    while (!cfg.stop.aborted && disconnected === null) {
      if (r.offline && session === 1) {
        // The old node still serves while OFFLINE: take its answers, then leave it.
        await Promise.all(inFlight);
        lastOld = lastAnswerAt;
        retired = client ?? null;
        await retired?.close().catch(() => undefined);
        const next = await open();
        r.to = where(next.ep);
        r.reconnected = true;
        cfg.onReconnected?.();
        session = 2;
        sessionSent = 0;
        continue;
      }
      const seq = ++sessionSent;
      r.sent++;
      if (cfg.tally !== undefined) cfg.tally.sent++;
      const inSession = session;
      const p = (client as BaseClient).request(2, 4, u32(seq)).then(
        (res) => {
          const now = Date.now();
          if (cfg.tally !== undefined) cfg.tally.answers++;
          if (res.status === 1 && res.payload.length === 4 && res.payload.readUInt32BE(0) === seq) r.answered++;
          else r.wrongAnswers++;
          if (inSession === 2 && r.gapMs === null && lastOld !== null) r.gapMs = now - lastOld;
          if (inSession === 2 && r.movedAt === null) {
            r.movedAt = performance.now();
            cfg.onMoved?.();
          } else if (inSession === 1) r.lastOldAnswerAt = performance.now();
          lastAnswerAt = now;
        },
        (err: unknown) => {
          r.error ??= `request ${seq} (session ${inSession}): ${message(err)}`;
        },
      );
      const tracked = p.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= cfg.window) await Promise.race(inFlight);
      await delay(cfg.intervalMs, cfg.stop, wake);
    }
    await Promise.all(inFlight);
    if (disconnected !== null) throw new Error(`disconnected: ${String(disconnected)}`);
    const data = await (client as BaseClient).request(2, 5, Buffer.alloc(0));
    const user = JSON.parse(data.payload.toString('utf8')) as { lastSeq?: number; gaps?: number; dups?: number };
    const lastSeq = user.lastSeq ?? 0;
    // The node's view covers the current session; the client's answers cover both sessions.
    r.lost = Math.max((user.gaps ?? 0) + Math.max(0, sessionSent - lastSeq), r.sent - r.answered - r.wrongAnswers);
    r.duplicated = user.dups ?? 0;
    r.userDataKept = lastSeq === r.sent;
    await (client as BaseClient).close();
  } catch (err) {
    r.error ??= message(err);
    r.lost = Math.max(r.lost, r.sent - r.answered - r.wrongAnswers);
  } finally {
    (client as BaseClient | undefined)?.destroy();
  }
  return r;
}
