/**
 * A minimal pure-TypeScript RUDP client over a connected dgram socket, built on the sans-I/O
 * ClientSession of src/protocol/rudp: handshake, reliable and unreliable sends, FIFO answer
 * matching per ver/cmd, echo, pushes, FIN. For testing the UDP node before the native UdpClient.
 */
import { createSocket, Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_MAX_PAYLOAD,
  DropReason,
  emptyDropCounts,
  fromHex,
  randomSessionSecrets,
  SessionCrypto,
  Status,
  toHex,
} from '../../src/protocol';
import {
  ClientEndReason,
  ClientSession,
  decodeEchoAnswer,
  EchoAnswer,
  encodeEchoRequest,
  RetryOptions,
} from '../../src/protocol/rudp';
import { CommandRouter, registerSampleCommands } from '../../src/server/commands';
import { MemoryStore, SessionRecord } from '../../src/server/store';
import type { JsonObject } from '../../src/server/types';
import { UdpNode, UdpNodeOptions } from '../../src/server/udp-node';
import { decodeMigrateAnswer, type EndpointInfo, type MigrateAnswer } from './ts-tcp-client';

export interface UdpAnswer {
  status: number;
  payload: Buffer;
}

export interface TsUdpClientOptions extends RetryOptions {
  connectTimeoutMs?: number;
  /** SYN resend interval during the handshake. */
  synIntervalMs?: number;
  /** Local address to bind (default: matches the server's family). */
  localHost?: string;
  /** Local port to bind (default 0: ephemeral); a test reuses a port another client freed. */
  localPort?: number;
  onPush?: (ver: number, cmd: number, payload: Buffer) => void;
  onClose?: (reason: ClientEndReason) => void;
  /** Sent reliably as ver 0 cmd 4 right after the handshake. */
  clientKey?: string;
  /** At a migration target: the first request is the claim with this ticket; connect() awaits its answer. */
  claim?: Uint8Array;
  /** Sent reliably as the first request, not awaited (refusal tests). */
  first?: { ver: number; cmd: number; body: Uint8Array };
  /** Sees every datagram this client sends (replay tests). */
  onDatagramOut?: (d: Buffer) => void;
}

interface Waiter {
  resolve: (a: UdpAnswer) => void;
  reject: (e: Error) => void;
}

export class TsUdpClient {
  readonly drops = emptyDropCounts();
  readonly pushes: { ver: number; cmd: number; payload: Buffer }[] = [];
  closeReason: ClientEndReason | null = null;
  /** Reason of the Fin push (ver 0 cmd 0) the server sent before closing, if any. */
  finReason: string | null = null;
  private readonly waiters = new Map<number, Waiter[]>();
  private pushWaiters: { fn: (p: { ver: number; cmd: number; payload: Buffer }) => boolean; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private readonly closedP: Promise<ClientEndReason>;
  private resolveClosed!: (r: ClientEndReason) => void;
  private readonly opened: Promise<void>;
  private resolveOpened!: () => void;
  private socketOpen = true;
  readonly session: ClientSession;

  private constructor(
    readonly socket: Socket,
    sid: Buffer,
    crypto: SessionCrypto,
    private readonly o: TsUdpClientOptions,
  ) {
    this.closedP = new Promise((r) => (this.resolveClosed = r));
    this.opened = new Promise((r) => (this.resolveOpened = r));
    this.session = new ClientSession(
      { sid, crypto, ...o, connectTimeoutMs: o.connectTimeoutMs ?? 5000 },
      {
        send: (d) => {
          o.onDatagramOut?.(d);
          if (this.socketOpen) this.socket.send(d);
        },
        connected: () => this.resolveOpened(),
        packet: (ver, cmd, status, body) => this.onPacket(ver, cmd, status, Buffer.from(body)),
        drop: (r: DropReason) => this.drops[r]++,
        closed: (r) => this.onClosed(r),
      },
    );
    socket.on('message', (msg) => {
      this.session.onDatagram(msg, performance.now());
      this.schedule();
    });
    socket.on('error', () => undefined);
  }

  /** Connects a socket to the endpoint's node and completes the RUDP handshake. */
  static async connect(ep: EndpointInfo, o: TsUdpClientOptions = {}): Promise<TsUdpClient> {
    const v6 = ep.serverHost.includes(':');
    const socket = createSocket(v6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve) => socket.bind(o.localPort ?? 0, o.localHost ?? (v6 ? '::1' : '127.0.0.1'), () => resolve()));
    await new Promise<void>((resolve) => socket.connect(ep.serverPort, ep.serverHost, () => resolve()));
    const crypto =
      ep.encryptionKey === ''
        ? SessionCrypto.plain()
        : new SessionCrypto({ key: fromHex(ep.encryptionKey), iv: fromHex(ep.encryptionIV), macKey: fromHex(ep.encryptionMacKey) });
    const c = new TsUdpClient(socket, fromHex(ep.sid), crypto, o);
    c.session.connect(performance.now());
    c.schedule();
    await Promise.race([
      c.opened,
      c.closedP.then((r) => {
        throw new Error(`connect failed: ${r}`);
      }),
    ]);
    if (o.first !== undefined) c.rsend(o.first.ver, o.first.cmd, o.first.body);
    if (o.claim !== undefined) {
      const a = await Promise.race([
        c.request(0, 2, o.claim),
        c.closedP.then((r) => {
          throw new Error(`claim refused: ${c.finReason ?? r}`);
        }),
      ]);
      if (a.status !== Status.Ok) throw new Error(`claim answered status ${a.status}`);
    }
    if (o.clientKey !== undefined) c.rsend(0, 4, Buffer.from(o.clientKey, 'utf8'));
    return c;
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  /** Reliable send without waiting for an answer. */
  rsend(ver: number, cmd: number, body: Uint8Array): boolean {
    const ok = this.session.send(ver, cmd, body, performance.now());
    this.schedule();
    return ok;
  }

  /** Unreliable send (flag UDP). */
  send(ver: number, cmd: number, body: Uint8Array): boolean {
    return this.session.sendUnreliable(ver, cmd, body);
  }

  /** Reliable request; resolves with the next answer to ver/cmd (FIFO). */
  request(ver: number, cmd: number, body: Uint8Array): Promise<UdpAnswer> {
    return new Promise((resolve, reject) => {
      if (!this.rsend(ver, cmd, body)) return reject(new Error('not sent'));
      this.waitAnswer(ver, cmd, { resolve, reject });
    });
  }

  /** Unreliable request (e.g. Ping ver 0 cmd 3); may never resolve on a lossy link. */
  requestUnreliable(ver: number, cmd: number, body: Uint8Array): Promise<UdpAnswer> {
    return new Promise((resolve, reject) => {
      if (!this.send(ver, cmd, body)) return reject(new Error('not sent'));
      this.waitAnswer(ver, cmd, { resolve, reject });
    });
  }

  /** The migrate request (ver 0 cmd 2, empty body), decoded (PROTOCOL 7.2, 7.4). */
  async migrate(): Promise<MigrateAnswer> {
    return decodeMigrateAnswer(await this.request(0, 2, Buffer.alloc(0)));
  }

  async echo(localAddresses: string[] = []): Promise<EchoAnswer & { status: number }> {
    const a = await this.request(0, 1, encodeEchoRequest(Date.now(), localAddresses));
    const e = decodeEchoAnswer(a.payload);
    if (e === null) throw new Error(`bad echo answer (status ${a.status})`);
    return { ...e, status: a.status };
  }

  /** Flushes, says FIN, resolves with the close reason. */
  close(): Promise<ClientEndReason> {
    this.session.close(performance.now());
    this.schedule();
    return this.closedP;
  }

  /** Resolves when the session ends for any reason. */
  get closed(): Promise<ClientEndReason> {
    return this.closedP;
  }

  destroy(): void {
    this.onClosed('closed-by-user');
  }

  /** Resolves once `count` pushes (counted from now) satisfy `pred`; event-driven, no polling. */
  waitForPushes(pred: (p: { ver: number; cmd: number; payload: Buffer }) => boolean, count = 1): Promise<Buffer[]> {
    const got: Buffer[] = [];
    return new Promise((resolve, reject) => {
      if (count <= 0) return resolve(got);
      this.pushWaiters.push({
        fn: (p) => {
          if (!pred(p)) return false;
          got.push(p.payload);
          if (got.length < count) return false;
          resolve(got);
          return true;
        },
        reject,
      });
    });
  }

  private waitAnswer(ver: number, cmd: number, w: Waiter): void {
    const k = ver * 0x10000 + cmd;
    let q = this.waiters.get(k);
    if (q === undefined) this.waiters.set(k, (q = []));
    q.push(w);
  }

  private onPacket(ver: number, cmd: number, status: number, body: Buffer): void {
    if (status === Status.Push) {
      const p = { ver, cmd, payload: body };
      if (ver === 0 && cmd === 0) this.finReason = body.toString('utf8');
      this.pushes.push(p);
      this.o.onPush?.(ver, cmd, body);
      this.pushWaiters = this.pushWaiters.filter((w) => !w.fn(p));
      return;
    }
    const w = this.waiters.get(ver * 0x10000 + cmd)?.shift();
    if (w === undefined) this.drops.unexpected++;
    else w.resolve({ status, payload: body });
  }

  private schedule(): void {
    const due = this.session.nextDeadline();
    if (due === null || this.closeReason !== null) return;
    if (this.timer !== null && this.timerAt <= due) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timerAt = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.session.tick(performance.now());
      this.schedule();
    }, Math.max(0, Math.ceil(due - performance.now())));
  }

  private onClosed(reason: ClientEndReason): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const q of this.waiters.values()) for (const w of q) w.reject(new Error(`closed: ${reason}`));
    this.waiters.clear();
    for (const w of this.pushWaiters) w.reject(new Error(`closed: ${reason}`));
    this.pushWaiters = [];
    this.o.onClose?.(reason);
    this.socketOpen = false;
    this.socket.close();
    this.resolveClosed(reason);
  }
}

// ---------------------------------------------------------------------------------------------
// A UDP node on its own (store, router with the sample commands), for tests that need node options
// the cluster does not expose (retry timing, TTL) and direct session registration.

export interface UdpNodeRig {
  node: UdpNode;
  store: MemoryStore;
  router: CommandRouter;
  /** Resolves once the node has counted at least `total` drops for `reason` (event-driven). */
  waitForDrops(reason: DropReason, total: number): Promise<void>;
  /** Registers a session the way the endpoint API does and returns its endpoint answer. */
  register(uid: string, data?: JsonObject): Promise<EndpointInfo>;
  stop(): Promise<void>;
}

export async function startUdpNodeRig(
  opts: Partial<Omit<UdpNodeOptions, 'store' | 'router' | 'emit'>> & { encryption?: boolean } = {},
): Promise<UdpNodeRig> {
  const store = new MemoryStore();
  const router = new CommandRouter();
  const timers = new Set<NodeJS.Timeout>();
  registerSampleCommands(router, {
    routePush: (uid, ver, cmd, payload) => store.routePush(uid, ver, cmd, payload),
    schedule: (ms, fn) => {
      const t = setTimeout(() => {
        timers.delete(t);
        fn();
      }, ms);
      timers.add(t);
    },
  });
  let dropWaiters: { check: () => boolean }[] = [];
  const node: UdpNode = new UdpNode({
    id: 'udp-rig',
    host: '127.0.0.1',
    maxPayload: DEFAULT_MAX_PAYLOAD,
    exposeDebugCommands: true,
    ...opts,
    store,
    router,
    emit: (event) => {
      if (event === 'drop') dropWaiters = dropWaiters.filter((w) => !w.check());
    },
  });
  await node.start();
  const encryption = opts.encryption ?? true;
  return {
    node,
    store,
    router,
    waitForDrops: (reason, total) =>
      new Promise<void>((resolve) => {
        const check = (): boolean => {
          if (node.stats.drops[reason] < total) return false;
          resolve();
          return true;
        };
        if (!check()) dropWaiters.push({ check });
      }),
    register: async (uid, data = {}) => {
      const s = randomSessionSecrets();
      const hex = (b: Buffer): string => (encryption ? toHex(b) : '');
      const rec: SessionRecord = {
        uid,
        sid: toHex(s.sid),
        nodeId: node.id,
        key: hex(s.key),
        iv: hex(s.iv),
        macKey: hex(s.macKey),
        clientKey: '',
        data,
      };
      node.adoptSession(rec);
      await store.registerSession(rec);
      return {
        serverType: 'UDP',
        serverHost: node.host,
        serverPort: node.port,
        sid: rec.sid,
        encryptionKey: rec.key,
        encryptionIV: rec.iv,
        encryptionMacKey: rec.macKey,
      };
    },
    stop: async () => {
      for (const t of timers) clearTimeout(t);
      await node.stop(200);
      await store.close();
    },
  };
}
