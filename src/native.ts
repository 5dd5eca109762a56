/**
 * The typed surface of the native addon (bindings/node) and its loader.
 *
 * The addon speaks in integer client ids; events arrive in batches through the one
 * handler set per environment (see bindings/node/event_pump.h for the batch layout).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadAddon, throwUnavailable } from './client/addon-loader';

export type NativeClientState = 'idle' | 'connecting' | 'connected' | 'migrating' | 'closing' | 'closed';

export interface NativeTcpOptions {
  /** 'loop' (default): the environment's libuv loop; 'thread': the network thread. */
  io?: 'loop' | 'thread';
  connectTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  heartbeatMissLimit?: number;
  maxPayload?: number;
  highWaterMark?: number;
  maxQueuedBytes?: number;
  closeTimeoutMs?: number;
  receiveHighWaterMark?: number;
  maxReceiveStallMs?: number;
  /** Live migration (PROTOCOL section 7): migrate on the offline notice, retry after no-target. */
  autoMigrate?: boolean;
  handoffTtlMs?: number;
  migrateRetryMinMs?: number;
  migrateRetryMaxMs?: number;
  lingerMs?: number;
}

/** A request a failed migration (or the end of the session) left unsent. */
export interface NativeUnsent {
  ver: number;
  cmd: number;
  payload: Buffer;
}

/** diarkis::UdpOptions as createUdp() accepts them (native/src/rudp/udp_options.h). */
export interface NativeUdpOptions {
  io?: 'loop' | 'thread';
  connectTimeoutMs?: number;
  maxPayload?: number;
  highWaterMark?: number;
  maxQueuedBytes?: number;
  closeTimeoutMs?: number;
  receiveHighWaterMark?: number;
  maxReceiveStallMs?: number;
  echoIntervalMs?: number;
  echoMissLimit?: number;
  synIntervalMs?: number;
  retryMinMs?: number;
  retryMaxMs?: number;
  maxRetries?: number;
  adaptiveRetry?: boolean;
  rtoMinMs?: number;
  sendWindow?: number;
  recvWindow?: number;
  clientKey?: string;
}

/** Session keys as 32-hex-character strings; key/iv/macKey may be '' when unencrypted. */
export interface NativeSessionKeys {
  sid: string;
  key: string;
  iv: string;
  macKey: string;
  encrypted: boolean;
}

export interface NativeStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  retransmits: number;
  heartbeatsSent: number;
  heartbeatsAnswered: number;
  migrations: number;
  queuedBytes: number;
  reassemblyBytes: number;
  sendDropped: number;
  undeliveredBytes: number;
  receivePauses: number;
  receiveDeferred: number;
  drops: Record<string, number>;
}

export interface PumpStats {
  /** Empty -> non-empty transitions the network thread signalled. */
  signals: number;
  /** Calls into JS. */
  batches: number;
  /** Events delivered. `events / batches` = events per crossing. */
  events: number;
  maxBatch: number;
  dropped: number;
  queued: number;
  /** Deliveries that failed with a native exception (caught; the queued rest goes next turn). */
  failures: number;
  clients: number;
  runtimeLeases: number;
}

/**
 * One batch: `meta` has `batchStride` numbers per event (see BatchField), `slab`
 * holds the small payloads back to back, `objs` the large payloads and strings in order.
 */
/** `count`: how many numbers of `meta` are this batch's (the array is kept across batches). */
export type BatchHandler = (meta: Float64Array, slab: Buffer, objs: ReadonlyArray<string | Buffer>, count: number) => void;

/** Offsets inside one event's row of `meta` (EventPump::Field). */
export const BatchField = {
  ClientId: 0,
  Type: 1,
  Ver: 2,
  Cmd: 3,
  Status: 4,
  Value: 5,
  PayloadOffset: 6,
  PayloadLength: 7,
} as const;

/** diarkis::EventType, in its numeric order. */
export const EVENT_TYPES = [
  'connect',
  'disconnect',
  'offline',
  'response',
  'push',
  'heartbeat',
  'echo',
  'migrated',
  'drain',
  'error',
] as const;
export type NativeEventType = (typeof EVENT_TYPES)[number];

/** Flags of NativeAddon.send's result. */
export const SEND_WRITABLE = 1;
export const SEND_MIGRATING = 2;

export interface NativeAddon {
  setEventHandler(handler: BatchHandler): void;
  create(options?: NativeTcpOptions): number;
  createUdp(options?: NativeUdpOptions): number;
  connect(id: number, host: string, port: number, keys: NativeSessionKeys): void;
  /**
   * Returns SEND_WRITABLE unless at or past the high-water mark ('drain' follows), plus
   * SEND_MIGRATING while the session migrates. Throws with a `code`.
   * reliable (default true) matters on UDP only: false sends one unreliable datagram.
   */
  send(id: number, ver: number, cmd: number, payload: Uint8Array, reliable?: boolean): number;
  /**
   * Every send of a turn in one call (src/client/send-batch.ts, bindings/node/send_batch.cc):
   * `length` bytes of records; per client slot, out[2 * slot] = flags, out[2 * slot + 1] = queued bytes.
   */
  sendBatch(records: Uint8Array, length: number, out: Float64Array): void;
  /** The bytes a client's sends queued and the socket has not taken yet. */
  queuedBytes(id: number): number;
  close(id: number, graceful: boolean): void;
  /** Destroys the native client; idempotent. */
  release(id: number): void;
  /** Starts (or joins) a live migration. Throws 'not-connected'. */
  migrate(id: number): void;
  /** What the ended session held unsent, in order; each call takes them. */
  takeUnsent(id: number): NativeUnsent[];
  ref(id: number): void;
  unref(id: number): void;
  state(id: number): NativeClientState;
  /** state(id) === 'migrating', without making a string (the request path asks it each time). */
  isMigrating(id: number): boolean;
  stats(id: number): NativeStats;
  pumpStats(): PumpStats;
  /** Tests only: throws a std:: exception inside a binding (CPP_EXCEPTIONS_ALL makes it an Error). */
  throwStdForTest(): never;
  /** Tests only: the next n event deliveries throw inside the native pump (caught and counted there). */
  failNextDeliveryForTest(n: number): void;
  /** Tests only: the pack and ACK delays createUdp(options) gives a client (none on the loop driver). */
  udpFlushDelaysForTest(options: NativeUdpOptions): { packDelayMs: number; ackDelayMs: number };
  /** Tests only: the host timer's next `passes` callbacks re-arm it at a past deadline; returns how many ran (0: just ask). */
  hostTimerStormForTest(passes: number): number;
  readonly errorCodes: readonly string[];
  readonly eventTypes: readonly string[];
  readonly batchStride: number;
}

/** The package root: the nearest directory upwards holding this package's package.json. */
export function packageRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      const parsed: unknown = JSON.parse(fs.readFileSync(pkg, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && (parsed as { name?: unknown }).name === 'diarkis-node') {
        return dir;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the diarkis-node package root above ${from}`);
    dir = parent;
  }
}

let loaded: NativeAddon | undefined;

/** This package's addon, or a reason it is not (an older build left in build/, say). */
function checkAddon(mod: unknown): string | undefined {
  const types = (mod as Partial<NativeAddon> | null)?.eventTypes;
  if (!Array.isArray(types) || types.length !== EVENT_TYPES.length || types.some((t, i) => t !== EVENT_TYPES[i])) {
    return 'not this version of the diarkis-node addon (event types differ): rebuild it';
  }
  return undefined;
}

/**
 * Loads the addon once per environment (main thread or worker), at first use: importing the
 * package (the cluster, the protocol) never needs it. Throws DiarkisError 'addon-unavailable'.
 */
export function loadNative(): NativeAddon {
  if (loaded) return loaded;
  let root: string;
  try {
    root = packageRoot();
  } catch (err) {
    // e.g. bundled into one file: the binary lives next to the package's own package.json
    throwUnavailable([{ path: __dirname, reason: `${(err as Error).message} (bundled? keep diarkis-node external)` }]);
  }
  loaded = loadAddon<NativeAddon>({ root, check: checkAddon }).addon;
  return loaded;
}
