/**
 * ClusterStore on Redis, for clusters of several processes on one or many machines.
 *
 * Pushes travel through one Redis stream per node (`pq:<node>`), not pub/sub: a stream keeps its
 * entries until read (pub/sub drops whatever is published while a subscriber reconnects or Redis
 * restarts), and one ordered stream per node lets a handoff read the old node's last entry and
 * put the adoption in the target's stream in one atomic script. See docs/cluster.md.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import * as L from './redis-scripts';
import { ScriptSender } from './redis-send';
import { redactUrl } from './redis-url';
import type {
  ClaimResult,
  ClusterStore,
  HandoffExpiry,
  HandoffRecord,
  NodeMessage,
  PushDelivery,
  SessionAdopter,
  SessionLookup,
  SessionRecord,
} from './store';
import type { NodeInfo, NodeState, NodeType } from './types';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS). */
  url: string;
  /** Key prefix, so several clusters can share one Redis (default 'diarkis:'). */
  prefix?: string;
  /** A node whose liveness key is not refreshed for this long leaves the registry (default 5000). */
  nodeTtlMs?: number;
  /** How often expired handoffs are looked for (default 250). */
  sweepIntervalMs?: number;
  /** Connecting gives up after this long (default 3000). */
  connectTimeoutMs?: number;
  /** Reconnect attempts a command waits through before it fails (default 5, about 1.5 s). */
  maxRetriesPerRequest?: number;
  /** Host registered for this store's nodes instead of their listening address (NAT, 0.0.0.0). */
  advertiseHost?: string;
  /** Failures of background work (liveness, push reading, expiry sweep). Default: stderr. */
  onError?: (op: string, err: Error) => void;
  /**
   * Commands issued in one event-loop turn go to Redis in one write (ioredis auto-pipelining,
   * default true): a storm of claims or handoffs costs one socket write per turn, not one each.
   * A turn's first script is written at once (redis-send.ts); the blocking stream readers never
   * pipeline.
   */
  autoPipelining?: boolean;
}

interface LocalNode {
  info: Omit<NodeInfo, 'users'>;
  timer: NodeJS.Timeout;
  /** Stream position from which the node's reader starts (last entry at registration). */
  start: string;
}

interface Reader {
  stop(): void;
  /** Resolves once the reader has handled stream entry `id` (rejects if it stops first). */
  reached(id: string, timeoutMs: number): Promise<void>;
}

type StreamReply = [Buffer, [Buffer, Buffer[]][]][] | null;

/** A Lua script run by EVALSHA (EVAL when Redis does not know it yet); ARGV[1] is the prefix. */
export class Script {
  readonly sha: string;
  constructor(readonly src: string) {
    this.sha = createHash('sha1').update(src).digest('hex');
  }
}

const S = {
  beat: new Script(L.BEAT),
  unregister: new Script(L.UNREGISTER),
  registerSession: new Script(L.REGISTER_SESSION),
  moveSession: new Script(L.MOVE_SESSION),
  removeSession: new Script(L.REMOVE_SESSION),
  routePush: new Script(L.ROUTE_PUSH),
  putHandoff: new Script(L.PUT_HANDOFF),
  claim: new Script(L.CLAIM_HANDOFF),
  sweep: new Script(L.SWEEP_HANDOFFS),
  setState: new Script(L.SET_STATE),
  reapDead: new Script(L.REAP_DEAD),
  lookup: new Script(L.LOOKUP_SESSION),
};

/** Stream ids "ms-seq" compared numerically. */
/** The registry's `ports` field: comma-separated port numbers (absent or empty: none). */
export function parsePorts(field: string | undefined): number[] {
  if (field === undefined || field === '') return [];
  return field.split(',').map(Number).filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
}

export function streamIdCompare(a: string, b: string): number {
  // Both parts are below 2^53 (ms since 1970, a per-ms sequence): Numbers compare them exactly,
  // without the BigInt parsing that showed in a paced move's profile (each read settles its waiters).
  const ai = a.indexOf('-');
  const bi = b.indexOf('-');
  const am = Number(ai < 0 ? a : a.slice(0, ai));
  const bm = Number(bi < 0 ? b : b.slice(0, bi));
  if (am !== bm) return am < bm ? -1 : 1;
  const as = ai < 0 ? 0 : Number(a.slice(ai + 1));
  const bs = bi < 0 ? 0 : Number(b.slice(bi + 1));
  return as === bs ? 0 : as < bs ? -1 : 1;
}

/**
 * A node's stream is trimmed to what its reader has handled once this many entries are read since
 * the last trim, or when it goes quiet (a blocking read times out): not after every read, which
 * cost an XTRIM per move when moves are paced and each read brings one or two entries.
 */
export const TRIM_EVERY_ENTRIES = 256;

const MARKER_TIMEOUT_MS = 10_000;

function decodeMessage(f: Map<string, Buffer>): NodeMessage | null {
  const str = (k: string): string => f.get(k)?.toString('utf8') ?? '';
  switch (str('t')) {
    case 'forward':
      return { kind: 'forward', sid: str('s'), ver: Number(str('v')), cmd: Number(str('c')), body: f.get('d') ?? Buffer.alloc(0) };
    case 'forward-end':
      return { kind: 'forward-end', sid: str('s') };
    case 'claimed':
      return { kind: 'claimed', sid: str('s') };
    case 'room-migrated':
      return { kind: 'room-migrated', newRoomId: str('n'), oldRoomId: str('o') };
    default:
      return null;
  }
}

export class RedisStore implements ClusterStore {
  readonly url: string;
  private readonly prefix: string;
  private readonly nodeTtlMs: number;
  private readonly advertiseHost: string | undefined;
  private readonly sweepIntervalMs: number;
  private readonly onError: (op: string, err: Error) => void;
  private readonly local = new Map<string, LocalNode>();
  private readonly readers = new Map<string, Reader>();
  private readonly adopters = new Map<string, SessionAdopter>();
  private readonly messageHandlers = new Map<string, (msg: NodeMessage) => void>();
  /** Scripts sent with EVAL on this connection (Redis knows them unless it restarted). */
  private readonly loaded = new Set<string>();
  private readonly expiryListeners = new Set<HandoffExpiry>();
  private sweeper: NodeJS.Timeout | null = null;
  private lastReap = 0;
  private closed = false;
  /** Scripts: a turn's first written at once, the rest through ioredis's pipeline (redis-send.ts). */
  private readonly scriptSender: ScriptSender;

  private constructor(
    private readonly redis: Redis,
    opts: RedisStoreOptions,
  ) {
    this.url = redactUrl(opts.url);
    this.prefix = opts.prefix ?? 'diarkis:';
    this.nodeTtlMs = opts.nodeTtlMs ?? 5000;
    this.advertiseHost = opts.advertiseHost;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 250;
    this.scriptSender = new ScriptSender(redis, opts.autoPipelining ?? true);
    this.onError = opts.onError ?? ((op, err) => console.error(`[redis-store ${this.url}] ${op}: ${err.message}`));
    // After a reconnect (e.g. Redis restarted empty) every local node registers again at once.
    redis.on('ready', () => {
      this.loaded.clear();
      for (const id of this.local.keys()) void this.beat(id, false).catch((e: Error) => this.onError('beat', e));
    });
    // ioredis reports connection errors here while it reconnects; they must not be unhandled.
    redis.on('error', () => undefined);
  }

  /** Connects (AUTH and TLS from the URL); rejects with an error naming the URL if it cannot. */
  static async connect(opts: RedisStoreOptions): Promise<RedisStore> {
    const redis = new Redis(opts.url, {
      lazyConnect: true,
      connectTimeout: opts.connectTimeoutMs ?? 3000,
      maxRetriesPerRequest: opts.maxRetriesPerRequest ?? 5,
      retryStrategy: (times) => Math.min(100 * times, 1000),
      enableAutoPipelining: opts.autoPipelining ?? true,
    });
    // The socket's error says why (refused, timeout, TLS, AUTH); connect() only says "closed".
    let cause: Error | null = null;
    const onError = (e: Error): void => {
      cause ??= e;
    };
    redis.on('error', onError);
    try {
      await redis.connect();
      await redis.ping();
      redis.off('error', onError);
      redis.on('error', () => undefined);
    } catch (err) {
      redis.disconnect();
      const first: unknown = cause ?? err;
      const msg = first instanceof Error ? first.message : String(first);
      throw new Error(`Redis unreachable at ${redactUrl(opts.url)}: ${msg}`);
    }
    return new RedisStore(redis, opts);
  }

  async registerNode(node: Omit<NodeInfo, 'users'>): Promise<void> {
    const prev = this.local.get(node.id);
    if (prev !== undefined) clearInterval(prev.timer);
    const timer = setInterval(() => {
      this.beat(node.id, false).catch((e: Error) => this.onError('beat', e));
    }, Math.max(50, Math.floor(this.nodeTtlMs / 3)));
    timer.unref();
    const entry: LocalNode = { info: { ...node, host: this.advertiseHost ?? node.host }, timer, start: '0-0' };
    this.local.set(node.id, entry);
    entry.start = await this.beat(node.id, true);
  }

  async unregisterNode(id: string): Promise<void> {
    const n = this.local.get(id);
    if (n !== undefined) clearInterval(n.timer);
    this.local.delete(id);
    this.readers.get(id)?.stop();
    this.readers.delete(id);
    await this.run(S.unregister, id);
  }

  async setNodeState(id: string, state: NodeState): Promise<void> {
    const n = this.local.get(id);
    if (n !== undefined) n.info.state = state;
    await this.run(S.setState, id, state);
  }

  async listNodes(type?: NodeType): Promise<NodeInfo[]> {
    const ids = await this.redis.smembers(this.key('nodes'));
    if (ids.length === 0) return [];
    const p = this.redis.pipeline();
    for (const id of ids) {
      p.hgetall(this.key(`node:${id}`));
      p.exists(this.key(`alive:${id}`));
    }
    const res = (await p.exec()) ?? [];
    const out: NodeInfo[] = [];
    const dead: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const [e1, h] = res[2 * i] ?? [null, null];
      const [e2, alive] = res[2 * i + 1] ?? [null, 0];
      if (e1 !== null) throw e1;
      if (e2 !== null) throw e2;
      const f = h as Record<string, string> | null;
      // Liveness expired: the node is gone (crashed or cut off) and is not handed out.
      if (f === null || alive !== 1 || f.type === undefined) {
        dead.push(ids[i]);
        continue;
      }
      const t = f.type as NodeType;
      if (type !== undefined && t !== type) continue;
      const info: NodeInfo = { id: f.id ?? ids[i], type: t, host: f.host ?? '', port: Number(f.port), state: f.state as NodeState, users: Number(f.users ?? 0) };
      const ports = parsePorts(f.ports);
      if (ports.length > 0) info.ports = ports;
      out.push(info);
    }
    // Dead nodes are reaped with their sessions after a grace of nodeTtlMs; a node that was only
    // late (a Redis restart, a pause) beats again within it and keeps its records.
    if (dead.length > 0) void this.reapDead().catch((e: Error) => this.onError('reap', e));
    return out;
  }

  async pickNode(type: NodeType): Promise<NodeInfo | null> {
    let best: NodeInfo | null = null;
    for (const n of await this.listNodes(type)) {
      if (n.state !== 'online') continue;
      if (best === null || n.users < best.users) best = n;
    }
    return best;
  }

  async registerSession(rec: SessionRecord): Promise<void> {
    await this.run(S.registerSession, rec.sid, rec.uid, rec.nodeId, JSON.stringify(rec));
  }

  async getSession(sid: string): Promise<SessionRecord | null> {
    const [node, json] = await this.redis.hmget(this.key(`sess:${sid}`), 'node', 'rec');
    if (node === null || json === null) return null;
    return { ...(JSON.parse(json) as SessionRecord), nodeId: node };
  }

  async lookupSession(sid: string): Promise<SessionLookup | null> {
    const r = (await this.run(S.lookup, sid)) as [string, string, number] | [];
    if (r.length === 0) return null;
    return { rec: { ...(JSON.parse(r[1]) as SessionRecord), nodeId: r[0] }, handoffPending: r[2] === 1 };
  }

  /**
   * Removes the nodes whose liveness has been expired for another nodeTtlMs (so about two TTLs
   * after their last refresh), with their session records; returns how many sessions.
   */
  async reapDead(): Promise<number> {
    this.lastReap = Date.now();
    return Number(await this.run(S.reapDead, String(this.nodeTtlMs)));
  }

  async sessionOfUser(uid: string): Promise<SessionRecord | null> {
    const sid = await this.redis.get(this.key(`user:${uid}`));
    return sid === null ? null : this.getSession(sid);
  }

  async moveSession(sid: string, nodeId: string): Promise<void> {
    await this.run(S.moveSession, sid, nodeId);
  }

  async removeSession(sid: string): Promise<void> {
    await this.run(S.removeSession, sid);
  }

  setSessionAdopter(nodeId: string, adopt: SessionAdopter): void {
    this.adopters.set(nodeId, adopt);
  }

  subscribePushes(nodeId: string, deliver: PushDelivery): Promise<() => void> {
    this.readers.get(nodeId)?.stop();
    const start = this.local.get(nodeId)?.start ?? '$';
    const reader = this.startReader(nodeId, start, deliver);
    this.readers.set(nodeId, reader);
    this.ensureSweeper();
    return Promise.resolve(() => {
      if (this.readers.get(nodeId) !== reader) return;
      reader.stop();
      this.readers.delete(nodeId);
    });
  }

  async routePush(uid: string, ver: number, cmd: number, payload: Buffer): Promise<boolean> {
    return (await this.run(S.routePush, uid, String(ver), String(cmd), payload)) === 1;
  }

  async putHandoff(rec: HandoffRecord, ttlMs: number): Promise<void> {
    const session: SessionRecord = {
      uid: rec.uid,
      sid: rec.sid,
      nodeId: rec.to,
      key: rec.key,
      iv: rec.iv,
      macKey: rec.macKey,
      clientKey: rec.clientKey,
      data: rec.data,
      ...(rec.viaPush === true ? { forwardFrom: rec.from } : {}),
    };
    const last = String(
      await this.run(S.putHandoff, rec.sid, rec.uid, rec.from, rec.to, JSON.stringify(rec), JSON.stringify(session), String(ttlMs)),
    );
    // The old node delivers what was routed to it before the move, then answers the client: its
    // reader has usually passed that entry already, and then nothing waits.
    await this.readers.get(rec.from)?.reached(last, MARKER_TIMEOUT_MS);
  }

  async claimHandoff(sid: string, ticket: string): Promise<ClaimResult> {
    const r = (await this.run(S.claim, sid, ticket)) as string[];
    if (r[0] === 'ok') return { ok: true, record: JSON.parse(r[1]) as HandoffRecord, repeat: r[2] === '1' };
    const reason = r[0] === 'wrong-ticket' || r[0] === 'expired' ? r[0] : 'unknown';
    return { ok: false, reason };
  }

  setNodeMessageHandler(nodeId: string, fn: (msg: NodeMessage) => void): void {
    this.messageHandlers.set(nodeId, fn);
  }

  async sendToNode(to: string, msg: NodeMessage): Promise<void> {
    const f: (string | Buffer)[] = ['k', 'x', 't', msg.kind];
    if (msg.kind === 'forward') f.push('s', msg.sid, 'v', String(msg.ver), 'c', String(msg.cmd), 'd', msg.body);
    else if (msg.kind === 'forward-end' || msg.kind === 'claimed') f.push('s', msg.sid);
    else f.push('n', msg.newRoomId, 'o', msg.oldRoomId);
    // A plain XADD (no script, so no NOSCRIPT retry): calls reach the stream in call order.
    await this.redis.xadd(this.key(`pq:${to}`), 'MAXLEN', '~', '100000', '*', ...f);
  }

  /** Runs one of the room scripts (or any script with the prefix as ARGV[1]). */
  script(s: Script, ...args: (string | Buffer)[]): Promise<unknown> {
    return this.run(s, ...args);
  }

  subscribeHandoffExpiry(fn: HandoffExpiry): Promise<() => void> {
    this.expiryListeners.add(fn);
    this.ensureSweeper();
    return Promise.resolve(() => {
      this.expiryListeners.delete(fn);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const n of this.local.values()) clearInterval(n.timer);
    this.local.clear();
    for (const r of this.readers.values()) r.stop();
    this.readers.clear();
    this.expiryListeners.clear();
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private key(k: string): string {
    return this.prefix + k;
  }

  private async beat(id: string, first: boolean): Promise<string> {
    const n = this.local.get(id);
    if (n === undefined) return '0-0';
    const { type, host, port, state, ports } = n.info;
    const last = await this.run(S.beat, id, type, host, String(port), state, String(this.nodeTtlMs), first ? '1' : '0', (ports ?? []).join(','));
    return String(last);
  }

  /**
   * EVAL on a script's first use here (it loads it), EVALSHA after. Not EVALSHA-then-EVAL on first
   * use: the retry would run after calls made later (room broadcasts out of order). After a Redis
   * restart, a NOSCRIPT still falls back to EVAL.
   */
  private async run(s: Script, ...args: (string | Buffer)[]): Promise<unknown> {
    if (!this.loaded.has(s.sha)) {
      this.loaded.add(s.sha);
      return this.scriptSender.send('eval', [s.src, 0, this.prefix, ...args]);
    }
    try {
      return await this.scriptSender.send('evalsha', [s.sha, 0, this.prefix, ...args]);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.scriptSender.send('eval', [s.src, 0, this.prefix, ...args]);
    }
  }

  private ensureSweeper(): void {
    if (this.sweeper !== null || this.closed) return;
    this.sweeper = setInterval(() => {
      void this.sweep().catch((e: Error) => this.onError('handoff-sweep', e));
    }, this.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Expired handoffs to nodes of this process are reported here, once, cluster-wide. */
  private async sweep(): Promise<void> {
    // Dead nodes are looked for about once per liveness TTL by every process with a node.
    if (Date.now() - this.lastReap >= this.nodeTtlMs) await this.reapDead();
    if (this.expiryListeners.size === 0) return;
    for (const nodeId of this.readers.keys()) {
      const recs = (await this.run(S.sweep, nodeId)) as string[];
      for (const json of recs) {
        const rec = JSON.parse(json) as HandoffRecord;
        for (const fn of [...this.expiryListeners]) fn({ ...rec });
      }
    }
  }

  /** One blocking connection per node reads its stream in order, from `start`. */
  private startReader(nodeId: string, start: string, deliver: PushDelivery): Reader {
    const conn = this.redis.duplicate({ enableAutoPipelining: false });
    conn.on('error', () => undefined);
    const streamKey = this.key(`pq:${nodeId}`);
    let last = start;
    let stopped = false;
    // Several handoffs may wait for the same entry (the old stream's last one): a set, not a map by id.
    const waiters = new Set<{ id: string; resolve: () => void; reject: (e: Error) => void }>();
    const settle = (): void => {
      for (const w of waiters) {
        if (last !== '$' && streamIdCompare(w.id, last) <= 0) {
          waiters.delete(w);
          w.resolve();
        }
      }
    };
    const handle = (id: string, fields: Buffer[]): void => {
      const f = new Map<string, Buffer>();
      for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i].toString('latin1'), fields[i + 1]);
      const kind = f.get('k')?.toString('latin1');
      const sid = f.get('s')?.toString('latin1') ?? '';
      if (kind === 'p') {
        deliver(sid, Number(f.get('v')?.toString('latin1')), Number(f.get('c')?.toString('latin1')), f.get('d') ?? Buffer.alloc(0));
      } else if (kind === 's' || kind === 'h') {
        const rec = JSON.parse(f.get('r')?.toString('utf8') ?? 'null') as SessionRecord | null;
        if (rec !== null) this.adopters.get(nodeId)?.({ ...rec, nodeId }, kind === 'h');
      } else if (kind === 'x') {
        const msg = decodeMessage(f);
        if (msg !== null) this.messageHandlers.get(nodeId)?.(msg);
      }
      void id;
    };
    // Entries handled since the stream was last trimmed.
    let untrimmed = 0;
    const trim = (): void => {
      untrimmed = 0;
      // Read entries are done with: this node is the stream's only reader.
      if (last !== '$') void this.redis.xtrim(streamKey, 'MINID', last).catch(() => undefined);
    };
    const loop = async (): Promise<void> => {
      while (!stopped) {
        let reply: StreamReply;
        try {
          reply = (await conn.xreadBuffer('COUNT', 512, 'BLOCK', 1000, 'STREAMS', streamKey, last)) as StreamReply;
        } catch (err) {
          if (stopped) break;
          this.onError('push-read', err as Error);
          await new Promise((r) => setTimeout(r, 200).unref());
          continue;
        }
        if (reply === null) {
          if (untrimmed > 0) trim();
          continue;
        }
        for (const [, entries] of reply) {
          for (const [idBuf, fields] of entries) {
            const id = idBuf.toString('latin1');
            try {
              handle(id, fields);
            } catch (err) {
              this.onError('push-deliver', err as Error);
            }
            last = id;
            untrimmed++;
          }
        }
        if (waiters.size > 0) settle();
        if (untrimmed >= TRIM_EVERY_ENTRIES) trim();
      }
    };
    void loop();
    return {
      stop: () => {
        stopped = true;
        conn.disconnect();
        for (const w of waiters) w.reject(new Error('push reader stopped'));
        waiters.clear();
      },
      reached: (id, timeoutMs) =>
        new Promise<void>((resolve, reject) => {
          if (stopped) return reject(new Error('push reader stopped'));
          if (id === '0-0' || (last !== '$' && streamIdCompare(id, last) <= 0)) return resolve();
          const w = {
            id,
            resolve: () => {
              clearTimeout(t);
              resolve();
            },
            reject: (e: Error) => {
              clearTimeout(t);
              reject(e);
            },
          };
          const t = setTimeout(() => {
            waiters.delete(w);
            reject(new Error(`pushes before the handoff of node ${nodeId} not read within ${timeoutMs} ms`));
          }, timeoutMs);
          t.unref();
          waiters.add(w);
        }),
    };
  }
}
