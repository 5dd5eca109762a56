/**
 * Types shared by the clients (TcpClient now, UdpClient later) and the endpoint lookup.
 */
import type { DiarkisError, DiarkisErrorCode } from './errors';

export type ServerType = 'TCP' | 'UDP';

/** The endpoint API's answer (PROTOCOL section 8); empty key fields = encryption off. */
export interface Endpoint {
  serverType: ServerType;
  serverHost: string;
  serverPort: number;
  sid: string;
  encryptionKey: string;
  encryptionIV: string;
  encryptionMacKey: string;
}

export type ClientState = 'idle' | 'connecting' | 'connected' | 'migrating' | 'closing' | 'closed';

export interface MigrationInfo {
  from: string;
  to: string;
  tookMs: number;
}

/** A request a failed migration handed back (DiarkisError details.unsent). */
export interface UnsentRequest {
  ver: number;
  cmd: number;
  payload: Buffer;
}

/**
 * details of a sendMigrate() rejection ('no-target', 'migration-failed', ...):
 * `unsent` was never sent (in order); `unconfirmed` lists the requests (request(), in the order
 * sent) that reached the old node before the migration and got no answer because the connection
 * ended first: the node may or may not have handled them. Empty when the migrate answer arrived
 * (it confirms everything sent before it) and for 'no-target' (the answers still come).
 * Fire-and-forget send()s have no answer and are never listed; requests that already timed
 * out were rejected with 'timeout' and are not listed either.
 */
export interface MigrationFailureDetails extends Record<string, unknown> {
  unsent: UnsentRequest[];
  unconfirmed: UnsentRequest[];
}

export interface Response {
  status: number;
  payload: Buffer;
}

export interface RequestOptions {
  /** Default: the client's requestTimeoutMs. */
  timeoutMs?: number;
}

export interface ClientStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  retransmits: number;
  heartbeatsSent: number;
  heartbeatsAnswered: number;
  migrations: number;
  queuedBytes: number;
  /** UDP: bytes of the one partial fragmented message being reassembled (bounded by maxPayload). */
  reassemblyBytes: number;
  /** UDP: unreliable datagrams dropped because the socket's send queue was full (ACKs, FINs and reliable ones never are). */
  sendDropped: number;
  /**
   * Bytes of received events (payloads and strings) queued for this thread and not yet delivered
   * to JavaScript: the native count that receiveHighWaterMark bounds.
   */
  undeliveredBytes: number;
  /** Times reading paused because undeliveredBytes reached receiveHighWaterMark. */
  receivePauses: number;
  /** UDP: reliable DATs refused (not acknowledged, so the server resends them) while paused. */
  receiveDeferred: number;
  /** Dropped incoming packets by reason name ('bad-mac', 'bad-magic', ...). */
  drops: Record<string, number>;
}

/** The typed events of every client (DESIGN "TypeScript API"). */
export interface ClientEventMap {
  connect: [reconnected: boolean];
  disconnect: [reason: DiarkisErrorCode, message: string];
  offline: [];
  migrated: [info: MigrationInfo];
  response: [ver: number, cmd: number, status: number, payload: Buffer];
  push: [ver: number, cmd: number, payload: Buffer];
  heartbeat: [rttMs: number];
  echo: [rttMs: number, publicAddress: string];
  drain: [];
  error: [err: DiarkisError];
}

/**
 * Which driver runs the client's socket and timers: 'loop' (default) runs them on
 * this thread's own event loop (no thread hop: the cheapest); 'thread' on the
 * native network thread, which keeps heartbeats on time while this thread's
 * JavaScript blocks for seconds.
 */
export type IoDriver = 'loop' | 'thread';

export interface ClientOptions {
  /** 'loop' (default) or 'thread': see IoDriver. */
  io?: IoDriver;
  /** Socket connect + first heartbeat answer (default 10000). */
  connectTimeoutMs?: number;
  /** PROTOCOL section 3 (default 5000). */
  heartbeatIntervalMs?: number;
  /** No heartbeat answer for this many intervals -> 'timeout' (default 3). */
  heartbeatMissLimit?: number;
  /** Largest payload in either direction (default 1 MiB). */
  maxPayload?: number;
  /** Sends return false at or past this many queued bytes; 'drain' follows (default 1 MiB). */
  highWaterMark?: number;
  /** Sends throw 'queue-full' past this many queued bytes (default 64 MiB). */
  maxQueuedBytes?: number;
  /** Bound on close() flushing the queue (default 5000). */
  closeTimeoutMs?: number;
  /**
   * Receive bound (default 4 MiB): when this many bytes of received events wait for this thread
   * (JavaScript blocked or slower than the server), the client stops reading: TCP leaves the
   * socket unread (the kernel's window pushes back on the server; nothing is lost), UDP stops
   * acknowledging new reliable datagrams (the server resends them later; nothing is lost) and
   * drops unreliable ones (counted in stats().drops['receive-backlog']). Reading resumes when
   * JavaScript has taken them down to half of it. Counted in stats().undeliveredBytes.
   */
  receiveHighWaterMark?: number;
  /**
   * While reading is paused, heartbeat/echo misses do not count (their answers wait behind the
   * unread pushes), up to this long (default 60000): then the client disconnects with
   * 'receive-stalled'.
   */
  maxReceiveStallMs?: number;
  /** Default timeout of request() (default 10000). */
  requestTimeoutMs?: number;
  /** 'auto' (default): follows the endpoint; false: require an unencrypted endpoint. */
  encryption?: 'auto' | boolean;
  /**
   * 'auto' (default): on the offline notice the client migrates by itself (and retries
   * with backoff after 'no-target'); 'manual': the application calls sendMigrate().
   */
  migration?: 'auto' | 'manual';
  /** How long claim attempts at the migration target may go on (default 30000). */
  handoffTtlMs?: number;
  /** Backoff of claim retries and automatic no-target retries: first delay (default 200). */
  migrateRetryMinMs?: number;
  /** Backoff cap (default 5000). */
  migrateRetryMaxMs?: number;
}
