/**
 * What TcpClient and (later) UdpClient share: the typed events, request/response
 * pairing, the connect/close lifecycle over a native client id, ref/unref and stats.
 * A subclass only says how its native client is created.
 */
import * as dns from 'node:dns';
import { EventEmitter } from 'node:events';
import * as net from 'node:net';

import { SEND_MIGRATING, SEND_WRITABLE, type NativeAddon, type NativeSessionKeys, type NativeStats, type NativeTcpOptions } from '../native';
import { nativeAddon, registerSink, unregisterSink, type NativeEventSink } from './dispatch';
import { DiarkisError, type DiarkisErrorCode } from './errors';
import { RequestQueue } from './request-queue';
import { BATCH_MAX_PAYLOAD, FLUSH_MIGRATING, PACKET_OVERHEAD, SEAL_OVERHEAD, SendLane, sendBatch, type SendBatch } from './send-batch';
import { Room } from './room';
import type {
  ClientEventMap,
  ClientOptions,
  ClientState,
  ClientStats,
  Endpoint,
  MigrationFailureDetails,
  MigrationInfo,
  RequestOptions,
  Response,
  UnsentRequest,
} from './types';
import { checkInt, checkPayload, checkPositive, describe, fromNative, invalid } from './validate';

const HEX32 = /^[0-9a-fA-F]{32}$/;
const DAY_MS = 86_400_000;

interface ResolvedOptions {
  native: NativeTcpOptions;
  maxPayload: number;
  requestTimeoutMs: number;
  encryption: 'auto' | boolean;
  migration: 'auto' | 'manual';
  /** The native migration options (TCP's create(); a transport passes what it supports). */
  migrationNative: Pick<NativeTcpOptions, 'autoMigrate' | 'handoffTtlMs' | 'migrateRetryMinMs' | 'migrateRetryMaxMs'>;
}

interface MigrationWaiter {
  promise: Promise<MigrationInfo>;
  resolve: (info: MigrationInfo) => void;
  reject: (err: DiarkisError) => void;
}

/** The defaults, resolved once per driver and shared (immutable): memory per idle client (#10). */
const defaultOptions = new Map<unknown, ResolvedOptions>();

function resolveOptions(o: ClientOptions | undefined): ResolvedOptions {
  if (o === undefined) {
    const io = defaultIo();
    let shared = defaultOptions.get(io);
    if (shared === undefined) {
      shared = freeze(resolveGiven({ io: io as ClientOptions['io'] }));
      defaultOptions.set(io, shared);
    }
    return shared;
  }
  return resolveGiven(o);
}

function freeze(r: ResolvedOptions): ResolvedOptions {
  Object.freeze(r.native);
  Object.freeze(r.migrationNative);
  return Object.freeze(r);
}

function resolveGiven(o: ClientOptions | undefined): ResolvedOptions {
  if (o !== undefined && (typeof o !== 'object' || o === null)) throw invalid(`options must be an object, got ${describe(o)}`);
  const opt = o ?? {};
  const num = (name: keyof ClientOptions, min: number, max: number): number | undefined => {
    const v = opt[name];
    return v === undefined ? undefined : checkPositive(`options.${name}`, v, min, max);
  };
  const io = opt.io ?? defaultIo();
  if (io !== 'loop' && io !== 'thread') throw invalid(`options.io must be 'loop' or 'thread'`);
  const native: NativeTcpOptions = {
    io,
    connectTimeoutMs: num('connectTimeoutMs', 1, DAY_MS),
    heartbeatIntervalMs: num('heartbeatIntervalMs', 10, DAY_MS),
    heartbeatMissLimit: num('heartbeatMissLimit', 1, 1000),
    maxPayload: num('maxPayload', 16, 0xffffff),
    highWaterMark: num('highWaterMark', 1, 2 ** 30),
    maxQueuedBytes: num('maxQueuedBytes', 1, 2 ** 32),
    closeTimeoutMs: num('closeTimeoutMs', 0, DAY_MS),
    receiveHighWaterMark: num('receiveHighWaterMark', 1024, 2 ** 30),
    maxReceiveStallMs: num('maxReceiveStallMs', 1, DAY_MS),
  };
  for (const k of Object.keys(native) as Array<keyof NativeTcpOptions>) {
    if (native[k] === undefined) delete native[k];
  }
  const enc = opt.encryption ?? 'auto';
  if (enc !== 'auto' && typeof enc !== 'boolean') throw invalid(`options.encryption must be 'auto' or a boolean`);
  const mig = opt.migration ?? 'auto';
  if (mig !== 'auto' && mig !== 'manual') throw invalid(`options.migration must be 'auto' or 'manual'`);
  const migrationNative: ResolvedOptions['migrationNative'] = { autoMigrate: mig === 'auto' };
  const ttl = num('handoffTtlMs', 1, DAY_MS);
  const rmin = num('migrateRetryMinMs', 1, DAY_MS);
  const rmax = num('migrateRetryMaxMs', 1, DAY_MS);
  if (ttl !== undefined) migrationNative.handoffTtlMs = ttl;
  if (rmin !== undefined) migrationNative.migrateRetryMinMs = rmin;
  if (rmax !== undefined) migrationNative.migrateRetryMaxMs = rmax;
  if ((rmin ?? 200) > (rmax ?? 5000)) throw invalid('options.migrateRetryMaxMs must be at least migrateRetryMinMs');
  return {
    native,
    maxPayload: native.maxPayload ?? 1 << 20,
    requestTimeoutMs: num('requestTimeoutMs', 1, DAY_MS) ?? 10_000,
    encryption: enc,
    migration: mig,
    migrationNative,
  };
}

/** The driver of clients created without options.io: DIARKIS_IO ('loop' | 'thread'), else 'loop'. */
function defaultIo(): unknown {
  const env = process.env.DIARKIS_IO;
  if (env === undefined || env === '') return 'loop';
  if (env !== 'loop' && env !== 'thread') throw invalid(`DIARKIS_IO must be 'loop' or 'thread', got '${env}'`);
  return env;
}

function checkEndpoint(ep: unknown): Endpoint {
  if (typeof ep !== 'object' || ep === null) throw invalid(`endpoint must be an object, got ${describe(ep)}`);
  const e = ep as Record<string, unknown>;
  if (typeof e.serverHost !== 'string' || e.serverHost === '') throw invalid('endpoint.serverHost must be a host name or address');
  checkInt('endpoint.serverPort', e.serverPort, 1, 65535);
  if (typeof e.sid !== 'string' || !HEX32.test(e.sid)) throw invalid('endpoint.sid must be 32 hex characters');
  for (const f of ['encryptionKey', 'encryptionIV', 'encryptionMacKey'] as const) {
    const v = e[f];
    if (typeof v !== 'string' || (v !== '' && !HEX32.test(v))) throw invalid(`endpoint.${f} must be 32 hex characters or empty`);
  }
  return e as unknown as Endpoint;
}

function lookup(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    dns.lookup(host, (err, address) => {
      if (err) reject(new DiarkisError('network-error', `cannot resolve ${host}: ${err.message}`));
      else resolve(address);
    });
  });
}

const ZERO_STATS: ClientStats = {
  packetsSent: 0,
  packetsReceived: 0,
  bytesSent: 0,
  bytesReceived: 0,
  retransmits: 0,
  heartbeatsSent: 0,
  heartbeatsAnswered: 0,
  migrations: 0,
  queuedBytes: 0,
  reassemblyBytes: 0,
  sendDropped: 0,
  undeliveredBytes: 0,
  receivePauses: 0,
  receiveDeferred: 0,
  drops: {},
};

export abstract class BaseClient extends EventEmitter<ClientEventMap> implements NativeEventSink {
  protected readonly options: ResolvedOptions;
  private readonly native: NativeAddon;
  private id: number | undefined;
  private localState: ClientState = 'idle';
  private refed = true;
  private sessionId: string | undefined;
  private lastStats: ClientStats = ZERO_STATS;
  // Made on first use (an idle client has neither): memory per idle client (#10).
  private requestQueue: RequestQueue | undefined;
  private connectWaiter: { resolve: () => void; reject: (e: DiarkisError) => void } | undefined;
  private closeWaiters: Array<() => void> | undefined;
  private migration: MigrationWaiter | undefined;
  private roomApi: Room | undefined;
  // Loop-driver TCP: this client's sends go through the environment's batch (issue 9).
  private lane: SendLane | undefined;
  private readonly batch: SendBatch;
  private readonly sendLimit: number;

  protected constructor(options?: ClientOptions) {
    super();
    this.options = resolveOptions(options);
    this.native = nativeAddon();
    this.batch = sendBatch(this.native);
    const n = this.options.native;
    this.sendLimit = Math.min(n.highWaterMark ?? 1 << 20, n.maxQueuedBytes ?? 64 * 2 ** 20);
  }

  /** True when this transport's sends may go through the batch on the loop driver. */
  protected batchesSends(): boolean {
    return false;
  }

  /** Records this client made this turn go to the addon now (before a call they must precede). */
  private flushSends(): void {
    if (this.lane !== undefined && this.lane.slot >= 0) this.batch.flush();
  }

  private onSendsFlushed(flags: number): void {
    // The session started a migration by itself (automatic mode; the 'offline' event may
    // still be on its way): request timeouts pause, as a direct send's flag made them.
    if ((flags & FLUSH_MIGRATING) !== 0 && this.migration === undefined && this.localState === 'connected') {
      this.trackMigration();
    }
  }

  private get requests(): RequestQueue {
    this.requestQueue ??= new RequestQueue();
    return this.requestQueue;
  }

  /** Creates this transport's native client. */
  protected abstract createNative(native: NativeAddon, options: NativeTcpOptions): number;

  get state(): ClientState {
    if (this.id === undefined) return this.localState;
    this.flushSends();
    const s = this.native.state(this.id);
    // sendMigrate() reaches the network thread a moment later: report it at once.
    return s === 'connected' && this.migration !== undefined ? 'migrating' : s;
  }

  /** Rooms (PROTOCOL section 10): one per client, created on first use. */
  get room(): Room {
    this.roomApi ??= new Room(this);
    return this.roomApi;
  }

  /** 'auto': migrates by itself on the offline notice (or waits for its room's migration). */
  get migrationMode(): 'auto' | 'manual' {
    return this.options.migration;
  }

  /** The session id (32 hex characters) once connect() was called. */
  get sid(): string | undefined {
    return this.sessionId;
  }

  /** Connects to the node the endpoint names; resolves on 'connect'. */
  connect(endpoint: Endpoint): Promise<void> {
    let ep: Endpoint;
    try {
      ep = checkEndpoint(endpoint);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.localState !== 'idle') {
      return Promise.reject(invalid(`connect() needs an idle client (state: ${this.state}); create a new client`));
    }
    const encrypted = ep.encryptionKey !== '';
    if (encrypted && (ep.encryptionIV === '' || ep.encryptionMacKey === '')) {
      return Promise.reject(invalid('endpoint has an encryption key but no IV or MAC key'));
    }
    if (this.options.encryption !== 'auto' && this.options.encryption !== encrypted) {
      return Promise.reject(
        invalid(`options.encryption is ${this.options.encryption} but the endpoint has encryption ${encrypted ? 'on' : 'off'}`),
      );
    }
    this.localState = 'connecting';
    this.sessionId = ep.sid;
    const keys: NativeSessionKeys = {
      sid: ep.sid,
      key: ep.encryptionKey,
      iv: ep.encryptionIV,
      macKey: ep.encryptionMacKey,
      encrypted,
    };
    return new Promise<void>((resolve, reject) => {
      this.connectWaiter = { resolve, reject };
      // A numeric host starts at once, so send() works right after connect() (queued
      // until the session is up); a name is resolved first.
      if (net.isIP(ep.serverHost) !== 0) {
        this.startNative(ep.serverHost, ep.serverPort, keys);
        return;
      }
      lookup(ep.serverHost).then(
        (address) => this.startNative(address, ep.serverPort, keys),
        (err: DiarkisError) => this.finish(err.code, err.message),
      );
    });
  }

  private startNative(address: string, port: number, keys: NativeSessionKeys): void {
    if (this.localState !== 'connecting') return;  // destroyed while resolving
    try {
      const id = this.createNative(this.native, this.options.native);
      this.id = id;
      registerSink(id, this);
      // Ids are a counter from 1: past 2^32 (never in practice) the direct path.
      if (this.batchesSends() && this.options.native.io === 'loop' && id < 2 ** 32) {
        this.lane = new SendLane((flags) => this.onSendsFlushed(flags));
      }
      if (!this.refed) this.native.unref(id);
      this.native.connect(id, address, port, keys);
    } catch (err) {
      const e = fromNative(err);
      this.finish(e.code, e.message);
    }
  }

  /** Sends a request; false past the high-water mark ('drain' follows). */
  send(ver: number, cmd: number, payload?: Uint8Array): boolean {
    return this.sendWith(ver, cmd, payload, true);
  }

  /** Reliable send; on TCP the same as send(). */
  rsend(ver: number, cmd: number, payload?: Uint8Array): boolean {
    return this.sendWith(ver, cmd, payload, true);
  }

  /** Sends; `reliable` matters only on UDP (TCP always is). */
  protected sendWith(ver: number, cmd: number, payload: Uint8Array | undefined, reliable: boolean): boolean {
    return (this.sendFlags(ver, cmd, payload, reliable) & SEND_WRITABLE) !== 0;
  }

  /** The one path to the native send: SEND_WRITABLE | SEND_MIGRATING. */
  private sendFlags(ver: number, cmd: number, payload: Uint8Array | undefined, reliable: boolean): number {
    checkInt('ver', ver, 0, 255);
    checkInt('cmd', cmd, 0, 65535);
    const body = checkPayload(payload, this.options.maxPayload);
    const id = this.id;
    if (id === undefined) throw new DiarkisError('not-connected', `cannot send: the client is ${this.state}`);
    const lane = this.lane;
    if (lane !== undefined) {
      const len = body.byteLength;
      // The batch takes what the native side is certain to accept and report writable (its
      // queued bytes only grow by sends); anything else goes direct, for its exact answer.
      if (
        len <= BATCH_MAX_PAYLOAD &&
        len + SEAL_OVERHEAD + 16 <= this.options.maxPayload &&
        lane.knownQueued + lane.pendingBytes + len + PACKET_OVERHEAD < this.sendLimit &&
        this.localState !== 'closing' &&
        !(ver === 1 && cmd === 7)  // the owner's room migrate: its flags start the migration's tracking
      ) {
        this.batch.append(lane, id, ver, cmd, body);
        return SEND_WRITABLE;
      }
      this.flushSends();
    }
    let flags: number;
    try {
      flags = this.native.send(id, ver, cmd, body, reliable);
    } catch (err) {
      throw fromNative(err);
    }
    if (lane !== undefined) lane.knownQueued = this.native.queuedBytes(id);
    return flags;
  }

  /**
   * Sends a request and resolves with the next answer to this ver/cmd (FIFO).
   * Status 4/5 resolve too. Rejects with 'timeout'; the late answer is swallowed.
   */
  request(ver: number, cmd: number, payload?: Uint8Array, options?: RequestOptions): Promise<Response> {
    const timeoutMs =
      options?.timeoutMs === undefined ? this.options.requestTimeoutMs : checkPositive('options.timeoutMs', options.timeoutMs, 1, DAY_MS);
    const flags = this.sendFlags(ver, cmd, payload, true);
    // Held in the migration queue (the native side may have started one on its own,
    // in automatic mode): the timeout starts when the request is sent.
    if (this.migration === undefined && (flags & SEND_MIGRATING) !== 0) this.trackMigration();
    return this.requests.add(ver, cmd, timeoutMs, payload);
  }

  /** Calls cb when the node announces it is going offline. */
  onOffline(cb: () => void): this {
    if (typeof cb !== 'function') throw invalid('onOffline needs a function');
    return this.on('offline', cb);
  }

  /**
   * Live migration (PROTOCOL section 7): resolves once the session is claimed at the
   * target ('connect'(true) and 'migrated' come first). Idempotent: while a migration
   * runs, the same promise. Sends made meanwhile are held and sent after the claim.
   * Rejects with 'no-target' (the session stays on this node; the held requests went
   * to it) or 'migration-failed' (disconnected; details.unsent has what was held),
   * both as DiarkisError with MigrationFailureDetails.
   */
  sendMigrate(): Promise<MigrationInfo> {
    if (this.migration !== undefined) return this.migration.promise;
    if (this.id === undefined || this.localState !== 'connected') {
      return Promise.reject(new DiarkisError('not-connected', `cannot migrate: the client is ${this.state}`));
    }
    this.flushSends();  // sends made before the call go before the migrate request
    try {
      this.startMigration(this.native, this.id);
    } catch (err) {
      return Promise.reject(fromNative(err));
    }
    return this.trackMigration().promise;
  }

  /** Asks the native client to migrate (a transport without migration throws). */
  protected startMigration(native: NativeAddon, id: number): void {
    native.migrate(id);
  }

  /** The promise of the running migration; request timeouts pause until it settles. */
  private trackMigration(): MigrationWaiter {
    if (this.migration !== undefined) return this.migration;
    let resolve!: (info: MigrationInfo) => void;
    let reject!: (err: DiarkisError) => void;
    const promise = new Promise<MigrationInfo>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Automatic migrations may have no caller: a failure is reported through the
    // events ('error', 'disconnect'), never as an unhandled rejection.
    promise.catch(() => undefined);
    this.migration = { promise, resolve, reject };
    this.requests.pauseTimers();
    return this.migration;
  }

  private settleMigration(result: MigrationInfo | DiarkisError): void {
    const m = this.migration;
    this.migration = undefined;
    this.requestQueue?.resumeTimers();
    if (m === undefined) return;
    if (result instanceof Error) m.reject(result);
    else m.resolve(result);
  }

  /** Flushes what is queued, closes, and resolves once disconnected. */
  close(): Promise<void> {
    return this.end(true);
  }

  /** Drops the connection at once. */
  destroy(): void {
    void this.end(false);
  }

  private end(graceful: boolean): Promise<void> {
    if (this.localState === 'closed') return Promise.resolve();
    if (this.localState === 'idle') {
      this.localState = 'closed';  // never connected: nothing to report
      return Promise.resolve();
    }
    if (this.id === undefined) {
      // Idle, or still resolving the host name: nothing native to close.
      this.finish('closed-by-user', 'closed before connecting');
      return Promise.resolve();
    }
    const done = new Promise<void>((resolve) => (this.closeWaiters ??= []).push(resolve));
    // From here sendMigrate() settles at once with not-connected: the native close is queued and
    // a migrate queued behind it would race it (issue 11).
    this.flushSends();  // sends made before close() go before it
    this.localState = 'closing';
    try {
      this.native.close(this.id, graceful);
    } catch (err) {
      const e = fromNative(err);
      this.finish(e.code, e.message);
    }
    return done;
  }

  /** Keeps the process alive while open (the default), like net.Socket. */
  ref(): this {
    this.refed = true;
    if (this.id !== undefined) this.native.ref(this.id);
    return this;
  }

  /** Lets the process exit while this client is open. */
  unref(): this {
    this.refed = false;
    if (this.id !== undefined) this.native.unref(this.id);
    return this;
  }

  stats(): ClientStats {
    if (this.id === undefined) return { ...this.lastStats, drops: { ...this.lastStats.drops } };
    this.flushSends();
    return this.toStats(this.native.stats(this.id));
  }

  private toStats(s: NativeStats): ClientStats {
    return { ...s, drops: { ...s.drops } };
  }

  /** The connection is over: release the native client, settle every waiter, emit once. */
  private finish(code: DiarkisErrorCode, message: string): void {
    if (this.localState === 'closed') return;
    this.localState = 'closed';
    let unsent: UnsentRequest[] | undefined;
    if (this.id !== undefined) {
      const id = this.id;
      this.flushSends();  // refused natively (the session is over): counted like sends into a closed socket
      this.lane = undefined;
      if (this.migration !== undefined) {
        try {
          unsent = this.native.takeUnsent(id);
        } catch {
          // a transport without migration: nothing held natively
        }
      }
      try {
        this.lastStats = this.toStats(this.native.stats(id));
      } catch {
        // released already: keep the last snapshot
      }
      unregisterSink(id);
      this.id = undefined;
      this.native.release(id);
    }
    const err = new DiarkisError(code, message !== '' ? message : undefined);
    if (this.migration !== undefined) {
      // Sent to the old node before the migrate request and never answered (the migrate answer
      // would have confirmed them): the connection ended first.
      const details: MigrationFailureDetails = { unsent: unsent ?? [], unconfirmed: this.requestQueue?.unconfirmed() ?? [] };
      const why = message !== '' ? message : err.message;
      this.settleMigration(new DiarkisError(code, `migration ended by ${code}: ${why}`, details));
    }
    this.requestQueue?.failAll(new DiarkisError(code === 'closed-by-user' ? 'not-connected' : code, `disconnected before the answer: ${err.message}`));
    const waiter = this.connectWaiter;
    this.connectWaiter = undefined;
    if (waiter) waiter.reject(err);
    const waiters = this.closeWaiters;
    this.closeWaiters = undefined;
    for (const w of waiters ?? []) w();
    this.emit('disconnect', code, err.message);
  }

  // ---- NativeEventSink (called by the dispatcher, one batch at a time) ----

  onNativeConnect(reconnected: boolean): void {
    if (this.localState !== 'closing') this.localState = 'connected';
    const waiter = this.connectWaiter;
    this.connectWaiter = undefined;
    waiter?.resolve();
    this.emit('connect', reconnected);
  }

  onNativeDisconnect(code: DiarkisErrorCode, message: string): void {
    this.finish(code, message);
  }

  onNativeOffline(): void {
    this.emit('offline');
    // Automatic mode: the native session has already sent the migrate request.
    if (this.options.migration === 'auto' && this.id !== undefined && this.native.isMigrating(this.id)) {
      this.trackMigration();
    }
  }

  onNativeResponse(ver: number, cmd: number, status: number, payload: Buffer): void {
    if (ver === 1 && cmd === 7 && this.migration !== undefined && (status !== 1 || payload.length === 0)) {
      // The owner's room migrate (PROTOCOL 10.2) did not move this client: it stays connected here.
      this.settleMigration(new DiarkisError('no-target', 'the room migration did not move this client'));
    }
    this.requestQueue?.answer(ver, cmd, status, payload);
    // Without a listener emit() would still gather its arguments (a rest array per answer).
    if (this.listenerCount('response') !== 0) this.emit('response', ver, cmd, status, payload);
  }

  onNativePush(ver: number, cmd: number, payload: Buffer): void {
    this.emit('push', ver, cmd, payload);
  }

  onNativeHeartbeat(rttMs: number): void {
    this.emit('heartbeat', rttMs);
  }

  onNativeEcho(rttMs: number, address: string): void {
    this.emit('echo', rttMs, address);
  }

  onNativeMigrated(from: string, to: string, tookMs: number): void {
    const info: MigrationInfo = { from, to, tookMs };
    this.emit('migrated', info);
    this.settleMigration(info);
  }

  onNativeDrain(): void {
    this.emit('drain');
  }

  onNativeError(code: DiarkisErrorCode, message: string): void {
    if (code === 'no-target' && this.migration !== undefined) {
      // The session stays here and the held requests went to this node.
      const details: MigrationFailureDetails = { unsent: [], unconfirmed: [] };
      this.settleMigration(new DiarkisError('no-target', message !== '' ? message : undefined, details));
    }
    // Non-fatal (e.g. bad-mac drops, counted in stats): an 'error' without a
    // listener must not throw and take the process down.
    if (this.listenerCount('error') > 0) this.emit('error', new DiarkisError(code, message !== '' ? message : undefined));
  }
}
