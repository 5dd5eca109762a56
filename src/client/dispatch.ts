/**
 * Routes the native event pump's batches to client objects by id.
 *
 * One handler per environment (the addon has one thread-safe function per
 * environment). A batch is decoded row by row; an exception thrown by a user's
 * listener is re-thrown on the next tick, like an exception in any event callback,
 * so the rest of the batch is still delivered.
 */
import { BatchField, EVENT_TYPES, loadNative, type NativeAddon, type PumpStats } from '../native';
import { isDiarkisErrorCode, type DiarkisErrorCode } from './errors';

/** What a client implements to receive its native events. */
export interface NativeEventSink {
  onNativeConnect(reconnected: boolean): void;
  onNativeDisconnect(code: DiarkisErrorCode, message: string): void;
  onNativeOffline(): void;
  onNativeResponse(ver: number, cmd: number, status: number, payload: Buffer): void;
  onNativePush(ver: number, cmd: number, payload: Buffer): void;
  onNativeHeartbeat(rttMs: number): void;
  onNativeEcho(rttMs: number, address: string): void;
  onNativeMigrated(from: string, to: string, tookMs: number): void;
  onNativeDrain(): void;
  onNativeError(code: DiarkisErrorCode, message: string): void;
}

const sinks = new Map<number, NativeEventSink>();
// Bumped by every (un)registration: a batch's cached sink (rows of one client come in runs)
// is valid only while it is unchanged, so a client released mid-batch gets no more rows.
let sinkGeneration = 0;
let addon: NativeAddon | undefined;

function codeAt(native: NativeAddon, index: number): DiarkisErrorCode {
  const name = native.errorCodes[index];
  return name !== undefined && isDiarkisErrorCode(name) ? name : 'network-error';
}

function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

const RESPONSE = EVENT_TYPES.indexOf('response');

function handleBatch(native: NativeAddon, meta: Float64Array, slab: Buffer, objs: ReadonlyArray<string | Buffer>, count: number): void {
  const stride = native.batchStride;
  let obj = 0;
  const nextString = (): string => {
    const v = objs[obj++];
    return typeof v === 'string' ? v : '';
  };
  let cachedId = -1;
  let cachedGeneration = -1;
  let cached: NativeEventSink | undefined;
  for (let row = 0; row < count; row += stride) {
    const typeIndex = meta[row + BatchField.Type];
    const clientId = meta[row + BatchField.ClientId];
    const off = meta[row + BatchField.PayloadOffset];
    if (typeIndex === RESPONSE && off >= 0 && clientId === cachedId && cachedGeneration === sinkGeneration) {
      // The common row: a response in the slab for the client of the row before. One view
      // of the slab and the call; nothing else (no lookup, no string, no allocation).
      if (cached === undefined) continue;
      try {
        cached.onNativeResponse(meta[row + BatchField.Ver], meta[row + BatchField.Cmd], meta[row + BatchField.Status],
          slab.subarray(off, off + meta[row + BatchField.PayloadLength]));
      } catch (err) {
        rethrowLater(err);
      }
      continue;
    }
    const type = EVENT_TYPES[typeIndex];
    const ver = meta[row + BatchField.Ver];
    const cmd = meta[row + BatchField.Cmd];
    const value = meta[row + BatchField.Value];
    let payload: Buffer | undefined;
    const len = meta[row + BatchField.PayloadLength];
    if (len >= 0) {
      if (off >= 0) {
        payload = slab.subarray(off, off + len);
      } else {
        const v = objs[obj++];
        payload = Buffer.isBuffer(v) ? v : Buffer.alloc(0);
      }
    }
    // Strings are always consumed so the cursor stays in step, even for a released client.
    let s1 = '';
    let s2 = '';
    if (type === 'disconnect' || type === 'error' || type === 'echo') s1 = nextString();
    if (type === 'migrated') {
      s1 = nextString();
      s2 = nextString();
    }
    if (clientId !== cachedId || cachedGeneration !== sinkGeneration) {
      cached = sinks.get(clientId);
      cachedId = clientId;
      cachedGeneration = sinkGeneration;
    }
    const sink = cached;
    if (sink === undefined) continue;  // a released client: dropped, never dereferenced
    try {
      switch (type) {
        case 'connect':
          sink.onNativeConnect(value === 1);
          break;
        case 'disconnect':
          sink.onNativeDisconnect(codeAt(native, value), s1);
          break;
        case 'offline':
          sink.onNativeOffline();
          break;
        case 'response':
          sink.onNativeResponse(ver, cmd, meta[row + BatchField.Status], payload ?? Buffer.alloc(0));
          break;
        case 'push':
          sink.onNativePush(ver, cmd, payload ?? Buffer.alloc(0));
          break;
        case 'heartbeat':
          sink.onNativeHeartbeat(value);
          break;
        case 'echo':
          sink.onNativeEcho(value, s1);
          break;
        case 'migrated':
          sink.onNativeMigrated(s1, s2, value);
          break;
        case 'drain':
          sink.onNativeDrain();
          break;
        case 'error':
          sink.onNativeError(codeAt(native, value), s1);
          break;
        default:
          break;
      }
    } catch (err) {
      rethrowLater(err);
    }
  }
}

/** The addon, with this environment's batch handler installed. */
export function nativeAddon(): NativeAddon {
  if (addon) return addon;
  const native = loadNative();
  native.setEventHandler((meta, slab, objs, count) => handleBatch(native, meta, slab, objs, count));
  addon = native;
  return native;
}

export function registerSink(id: number, sink: NativeEventSink): void {
  sinks.set(id, sink);
  sinkGeneration++;
}

export function unregisterSink(id: number): void {
  sinks.delete(id);
  sinkGeneration++;
}

/** The event pump's counters for this environment (events / batches = events per crossing). */
export function pumpStats(): PumpStats {
  return nativeAddon().pumpStats();
}
