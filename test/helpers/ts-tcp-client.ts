/**
 * A minimal pure-TypeScript Diarkis TCP client built from src/protocol, for tests and benchmarks:
 * connect (first heartbeat), request with FIFO answer matching per ver/cmd, pushes via callback.
 * Lean on purpose: one buffer per request (sealed with headroom), writes batched per tick.
 */
import { request as httpRequest } from 'node:http';
import { connect as netConnect, Socket } from 'node:net';
import {
  BuiltinCmd,
  decodeFin,
  decodeHeartbeatAnswer,
  DEFAULT_MAX_PAYLOAD,
  DropReason,
  emptyDropCounts,
  encodeHeartbeat,
  fromHex,
  HeartbeatAnswer,
  isOpenError,
  REQUEST_HEADER_SIZE,
  ResponsePacket,
  SessionCrypto,
  SID_SIZE,
  Status,
  StreamReassembler,
  VER_BUILTIN,
  writeRequestHeader,
} from '../../src/protocol';

export interface EndpointInfo {
  serverType: string;
  serverHost: string;
  serverPort: number;
  sid: string;
  encryptionKey: string;
  encryptionIV: string;
  encryptionMacKey: string;
}

export interface HttpResult {
  status: number;
  body: string;
}

export function httpGet(url: string, headers: Record<string, string> = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function fetchEndpoint(
  entryUrl: string,
  type: 'TCP' | 'UDP',
  uid: string,
  clientKey?: string,
): Promise<EndpointInfo> {
  const headers: Record<string, string> = clientKey === undefined ? {} : { ClientKey: clientKey };
  const r = await httpGet(`${entryUrl}/endpoint/type/${type}/user/${encodeURIComponent(uid)}`, headers);
  if (r.status !== 200) throw new Error(`endpoint: HTTP ${r.status} ${r.body}`);
  return JSON.parse(r.body) as EndpointInfo;
}

export interface Answer {
  status: number;
  payload: Buffer;
}

export type PushHandler = (ver: number, cmd: number, payload: Buffer) => void;

export interface TsTcpClientOptions {
  maxPayload?: number;
  onPush?: PushHandler;
  /** Replaces the first heartbeat (to test refusals); connect() then resolves once it is sent. */
  first?: { ver: number; cmd: number; body: Uint8Array };
  /** At a migration target: the first request is the claim with this ticket (PROTOCOL 7.6). */
  claim?: Uint8Array;
  /** Keep our side open when the server half-closes (to observe a node's linger). */
  allowHalfOpen?: boolean;
}

/** Decoded answer to the migrate request (PROTOCOL 7.4). */
export type MigrateAnswer =
  | { ok: true; host: string; port: number; address: string; ticket: Buffer }
  | { ok: false; status: number; code: number | null };

export function decodeMigrateAnswer(a: Answer): MigrateAnswer {
  const p = a.payload;
  if (a.status !== Status.Ok) return { ok: false, status: a.status, code: p.length === 2 ? p.readUInt16BE(0) : null };
  if (p.length < 2) throw new Error('short migrate answer');
  const n = p.readUInt16BE(0);
  if (p.length !== 2 + n + 16) throw new Error(`bad migrate answer length ${p.length}`);
  const address = p.subarray(2, 2 + n).toString('utf8');
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address);
  if (m === null) throw new Error(`bad address ${address}`);
  return { ok: true, host: m[1] ?? m[2], port: Number(m[3]), address, ticket: Buffer.from(p.subarray(2 + n)) };
}

interface Waiter {
  resolve(a: Answer): void;
  reject(e: Error): void;
}

/** FIFO of waiters for one ver/cmd; a head index avoids Array.shift costs under load. */
class Fifo {
  items: (Waiter | undefined)[] = [];
  head = 0;
  push(w: Waiter): void {
    this.items.push(w);
  }
  shift(): Waiter | undefined {
    if (this.head >= this.items.length) return undefined;
    const w = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    return w;
  }
}

const EMPTY = Buffer.alloc(0);

export class TsTcpClient {
  readonly sid: Buffer;
  readonly crypto: SessionCrypto;
  onPush: PushHandler;
  /** Reason of the Fin push, when one arrived. */
  finReason: string | null = null;
  /** Node state from the last heartbeat answer or offline notice. */
  nodeState: HeartbeatAnswer['state'] = 'online';
  readonly drops: Record<DropReason, number> = emptyDropCounts();
  /** Resolves when the socket is closed, with 'fin:<reason>', 'protocol:<reason>' or 'closed'. */
  readonly closed: Promise<string>;

  private readonly waiters = new Map<number, Fifo>();
  private readonly re: StreamReassembler<ResponsePacket>;
  private corked = false;
  private isClosed = false;
  private closeReason = 'closed';

  private constructor(
    readonly socket: Socket,
    ep: EndpointInfo,
    opts: TsTcpClientOptions,
  ) {
    this.sid = fromHex(ep.sid);
    this.crypto =
      ep.encryptionKey === ''
        ? SessionCrypto.plain()
        : new SessionCrypto({
            key: fromHex(ep.encryptionKey),
            iv: fromHex(ep.encryptionIV),
            macKey: fromHex(ep.encryptionMacKey),
          });
    this.onPush = opts.onPush ?? (() => undefined);
    this.re = StreamReassembler.forResponses(opts.maxPayload ?? DEFAULT_MAX_PAYLOAD);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        const err = new Error(this.closeReason);
        for (const f of this.waiters.values()) for (let w = f.shift(); w !== undefined; w = f.shift()) w.reject(err);
        resolve(this.closeReason);
      });
    });
  }

  /** Connects and sends the first heartbeat; resolves when it is answered, rejects on refusal/close. */
  static connect(ep: EndpointInfo, opts: TsTcpClientOptions = {}): Promise<TsTcpClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: ep.serverHost, port: ep.serverPort, allowHalfOpen: opts.allowHalfOpen ?? false });
      const onError = (e: Error): void => reject(e);
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        const c = new TsTcpClient(socket, ep, opts);
        if (opts.claim !== undefined) {
          c.request(VER_BUILTIN, BuiltinCmd.Reconn, opts.claim).then(
            (a) => {
              if (a.status === Status.Ok) resolve(c);
              else {
                socket.destroy();
                reject(new Error(`claim answered status ${a.status}`));
              }
            },
            (e: Error) => {
              socket.destroy();
              reject(e);
            },
          );
          return;
        }
        if (opts.first !== undefined) {
          c.send(opts.first.ver, opts.first.cmd, opts.first.body);
          resolve(c);
          return;
        }
        c.heartbeat().then(
          () => resolve(c),
          (e: Error) => {
            socket.destroy();
            reject(e);
          },
        );
      });
    });
  }

  /** header || SID || secure(body) in one buffer. */
  encode(ver: number, cmd: number, body: Uint8Array): Buffer {
    const out = this.crypto.seal(body, REQUEST_HEADER_SIZE + SID_SIZE);
    writeRequestHeader(out, 0, ver, cmd, out.length - REQUEST_HEADER_SIZE);
    this.sid.copy(out, REQUEST_HEADER_SIZE);
    return out;
  }

  send(ver: number, cmd: number, body: Uint8Array = EMPTY): void {
    this.writeRaw(this.encode(ver, cmd, body));
  }

  request(ver: number, cmd: number, body: Uint8Array = EMPTY): Promise<Answer> {
    if (this.isClosed) return Promise.reject(new Error(this.closeReason));
    return new Promise((resolve, reject) => {
      const key = ver * 0x10000 + cmd;
      let f = this.waiters.get(key);
      if (f === undefined) {
        f = new Fifo();
        this.waiters.set(key, f);
      }
      f.push({ resolve, reject });
      this.send(ver, cmd, body);
    });
  }

  async heartbeat(ts: number = Date.now()): Promise<HeartbeatAnswer> {
    const a = await this.request(VER_BUILTIN, BuiltinCmd.KeepAlive, encodeHeartbeat(ts));
    const hb = a.status === Status.Ok ? decodeHeartbeatAnswer(a.payload) : null;
    if (hb === null) throw new Error(`bad heartbeat answer (status ${a.status})`);
    this.nodeState = hb.state;
    return hb;
  }

  /** The migrate request (ver 0 cmd 2, empty body), decoded. */
  async migrate(): Promise<MigrateAnswer> {
    return decodeMigrateAnswer(await this.request(VER_BUILTIN, BuiltinCmd.Reconn));
  }

  /** Writes bytes as they are (tests craft bad packets with this). Batched per tick. */
  writeRaw(buf: Uint8Array): void {
    if (this.isClosed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(buf);
  }

  /** Ends our side and resolves when the socket is closed. */
  async close(): Promise<void> {
    this.closeReason = 'closed-by-user';
    this.socket.end();
    await this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.re.feed(chunk);
    for (;;) {
      const r = this.re.next();
      if (r.kind === 'need-more') return;
      if (r.kind === 'error') {
        this.drops[r.reason]++;
        this.closeReason = `protocol:${r.reason}`;
        this.socket.destroy();
        return;
      }
      this.onPacket(r.packet);
    }
  }

  private onPacket(p: ResponsePacket): void {
    const opened = this.crypto.open(p.payload);
    let body: Buffer;
    if (isOpenError(opened)) {
      // A refusal for an unknown SID comes in clear (the node has no keys): still a Fin.
      if (p.status === Status.Push && p.ver === VER_BUILTIN && p.cmd === BuiltinCmd.Fin) body = p.payload;
      else {
        this.drops[opened.error]++;
        return;
      }
    } else body = opened;
    if (p.status === Status.Push) {
      if (p.ver === VER_BUILTIN && p.cmd === BuiltinCmd.Fin) {
        this.finReason = decodeFin(body);
        this.closeReason = `fin:${this.finReason}`;
        this.socket.end();
      } else if (p.ver === VER_BUILTIN && p.cmd === BuiltinCmd.KeepAlive) {
        const hb = decodeHeartbeatAnswer(body);
        if (hb !== null) this.nodeState = hb.state;
      }
      this.onPush(p.ver, p.cmd, body);
      return;
    }
    const w = this.waiters.get(p.ver * 0x10000 + p.cmd)?.shift();
    if (w === undefined) this.drops.unexpected++;
    else w.resolve({ status: p.status, payload: body });
  }
}
