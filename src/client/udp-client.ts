/**
 * UdpClient: the Diarkis realtime protocol over RUDP, driven by the native core's
 * DiarkisUdpBase on the shared network thread.
 *
 *   const client = new UdpClient({ echoIntervalMs: 2000 });
 *   client.on('echo', (rttMs, publicAddress) => { ... });
 *   await client.connect(await getEndpoint(entryUrl, { type: 'UDP', uid }));
 *   client.send(2, 10, position);                              // unreliable, one datagram
 *   const { status, payload } = await client.request(2, 1, b);  // reliable, FIFO answers
 *   await client.close();
 *
 * send() is unreliable (one datagram, at most ~1350 bytes of body); rsend() and
 * request() are reliable (retransmitted, in order, cut into fragments above 1300 bytes).
 *
 * Live migration is BaseClient's (sendMigrate(), options.migration 'auto' | 'manual'):
 * reliable sends are held while the session moves to the target node; an
 * unreliable send() during a migration throws 'not-connected'.
 */
import type { NativeAddon, NativeTcpOptions, NativeUdpOptions } from '../native';
import { BaseClient } from './base-client';
import { DiarkisError } from './errors';
import type { ClientOptions } from './types';
import { checkInt, checkPayload, checkPositive, describe, invalid } from './validate';

const DAY_MS = 86_400_000;

export interface UdpClientOptions extends ClientOptions {
  /** Reliable echo (ver 0 cmd 1) cadence; 'echo' reports RTT and public address (default: heartbeatIntervalMs, else 5000). */
  echoIntervalMs?: number;
  /** No echo answer for this many intervals -> 'timeout' (default: heartbeatMissLimit, else 3). */
  echoMissLimit?: number;
  /** SYN repeat interval while connecting (default 500); after four repeats it doubles, up to 8x. */
  synIntervalMs?: number;
  /** First resend interval of a reliable datagram, doubling ... (default 1000). */
  retryMinMs?: number;
  /** ... up to this (default 8000). */
  retryMaxMs?: number;
  /** Resends of one datagram before the connection times out (default 10). */
  maxRetries?: number;
  /** Resend after SRTT + 4 RTTVAR, clamped to [rtoMinMs, retryMaxMs]; false = fixed retryMinMs doubling (default true). */
  adaptiveRetry?: boolean;
  /** Lower bound of the adaptive resend interval (default 100). */
  rtoMinMs?: number;
  /** Unacknowledged reliable datagrams in flight; the rest wait locally (default 256). */
  sendWindow?: number;
  /** Out-of-order reliable datagrams buffered (default 1024). */
  recvWindow?: number;
  /** Sent reliably as ver 0 cmd 4 right after the handshake, if set. */
  clientKey?: string;
}

function resolveUdpOptions(o: UdpClientOptions | undefined): NativeUdpOptions {
  const opt = o ?? {};  // BaseClient has already rejected a non-object
  const num = (name: keyof UdpClientOptions, min: number, max: number): number | undefined => {
    const v = opt[name];
    return v === undefined ? undefined : checkPositive(`options.${name}`, v, min, max);
  };
  const int = (name: keyof UdpClientOptions, min: number, max: number): number | undefined => {
    const v = opt[name];
    return v === undefined ? undefined : checkInt(`options.${name}`, v, min, max);
  };
  const out: NativeUdpOptions = {
    echoIntervalMs: num('echoIntervalMs', 10, DAY_MS),
    echoMissLimit: int('echoMissLimit', 1, 1000),
    synIntervalMs: num('synIntervalMs', 1, DAY_MS),
    retryMinMs: num('retryMinMs', 1, DAY_MS),
    retryMaxMs: num('retryMaxMs', 1, DAY_MS),
    maxRetries: int('maxRetries', 1, 1000),
    rtoMinMs: num('rtoMinMs', 1, DAY_MS),
    sendWindow: int('sendWindow', 1, 65536),
    recvWindow: int('recvWindow', 1, 65536),
  };
  if ((out.retryMinMs ?? 1000) > (out.retryMaxMs ?? 8000)) throw invalid('options.retryMaxMs must be at least retryMinMs');
  if (opt.adaptiveRetry !== undefined) {
    if (typeof opt.adaptiveRetry !== 'boolean') throw invalid(`options.adaptiveRetry must be a boolean, got ${describe(opt.adaptiveRetry)}`);
    out.adaptiveRetry = opt.adaptiveRetry;
  }
  if (opt.clientKey !== undefined) {
    if (typeof opt.clientKey !== 'string') throw invalid(`options.clientKey must be a string, got ${describe(opt.clientKey)}`);
    out.clientKey = opt.clientKey;
  }
  return out;
}

/** Options not given: one shared object for every such client. */
const NO_UDP_OPTIONS: NativeUdpOptions = Object.freeze({});

function defined<T extends object>(o: T): T {
  const out = { ...o };
  for (const k of Object.keys(out) as Array<keyof T>) {
    if (out[k] === undefined) delete out[k];
  }
  return out;
}

export class UdpClient extends BaseClient {
  private readonly udpOptions: NativeUdpOptions;

  constructor(options?: UdpClientOptions) {
    super(options);
    this.udpOptions = options === undefined ? NO_UDP_OPTIONS : defined(resolveUdpOptions(options));
  }

  protected override createNative(native: NativeAddon, common: NativeTcpOptions): number {
    const { heartbeatIntervalMs, heartbeatMissLimit, ...shared } = common;
    // Live migration options are shared with TCP (autoMigrate, handoffTtlMs, migrateRetry*).
    return native.createUdp(
      defined({
        echoIntervalMs: heartbeatIntervalMs,
        echoMissLimit: heartbeatMissLimit,
        ...shared,
        ...this.udpOptions,
        ...this.options.migrationNative,
      }),
    );
  }

  /** Unreliable: one datagram, sent once. Needs 'connected'; throws 'payload-too-large' past one datagram. */
  override send(ver: number, cmd: number, payload?: Uint8Array): boolean {
    if (this.state !== 'connected') {
      checkInt('ver', ver, 0, 255);
      checkInt('cmd', cmd, 0, 65535);
      checkPayload(payload, this.options.maxPayload);
      throw new DiarkisError('not-connected', `cannot send unreliably: the client is ${this.state}`);
    }
    return this.sendWith(ver, cmd, payload, false);
  }

  // rsend() and request() are BaseClient's: reliable, retransmitted until acknowledged, in order,
  // and allowed while connecting (queued until the handshake).
}
