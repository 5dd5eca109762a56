/**
 * A scriptable raw TCP server for the native client's bad-input tests. It accepts connections,
 * reads the client's first request (the heartbeat), then misbehaves as the script says.
 */
import { createServer, Socket } from 'node:net';
import {
  BuiltinCmd,
  decodeHeartbeat,
  encodeFin,
  encodeHeartbeatAnswer,
  encodeResponse,
  isOpenError,
  MAGIC,
  randomSessionSecrets,
  RequestPacket,
  SessionCrypto,
  SessionKeys,
  SID_SIZE,
  Status,
  StreamReassembler,
  toHex,
  VER_BUILTIN,
} from '../../src/protocol';

export type BadServerScript =
  /** Well-behaved baseline: answers heartbeats, echoes every other request (status 1). */
  | { kind: 'echo' }
  /** Answers the heartbeat, then sends a packet whose magic is wrong. */
  | { kind: 'bad-magic' }
  /** Answers the heartbeat, then a header announcing `length` bytes (default 1 MiB + 1). */
  | { kind: 'too-large'; length?: number }
  /** Answers the heartbeat, then half a packet, then ends the stream. */
  | { kind: 'truncated' }
  /** Answers the heartbeat; each later request is answered twice: wrong HMAC first, then good. */
  | { kind: 'bad-mac-then-good' }
  /** Answers the heartbeat, then half a packet, then destroys the socket (reset). */
  | { kind: 'die-mid-stream' }
  /** Fin push 'refused' (sealed with the keys) instead of an answer, then closes. */
  | { kind: 'refuse' }
  /** Reads everything, answers nothing. */
  | { kind: 'never-answer' };

export interface BadServerKeys {
  sid: Buffer;
  /** null = encryption off. */
  keys: SessionKeys | null;
}

export interface BadServer {
  host: string;
  port: number;
  /** Endpoint JSON (PROTOCOL section 8 field names) for the client under test. */
  endpoint: {
    serverType: 'TCP';
    serverHost: string;
    serverPort: number;
    sid: string;
    encryptionKey: string;
    encryptionIV: string;
    encryptionMacKey: string;
  };
  /** Connections accepted so far. */
  readonly connections: number;
  /** Requests received (decoded bodies; null when they did not authenticate), all connections. */
  readonly requests: { ver: number; cmd: number; body: Buffer | null }[];
  /** Resolves once `n` requests have arrived in total (event-driven, for tests). */
  waitForRequests(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Random keys (encrypted) when `secrets` is undefined; pass `{ sid, keys: null }` for clear mode. */
export function randomBadServerKeys(): BadServerKeys {
  const s = randomSessionSecrets();
  return { sid: s.sid, keys: { key: s.key, iv: s.iv, macKey: s.macKey } };
}

export async function startBadServer(
  secrets: BadServerKeys | undefined,
  script: BadServerScript,
  host = '127.0.0.1',
): Promise<BadServer> {
  const sk = secrets ?? randomBadServerKeys();
  const crypto = new SessionCrypto(sk.keys);
  const sockets = new Set<Socket>();
  const requests: { ver: number; cmd: number; body: Buffer | null }[] = [];
  let connections = 0;
  let waiters: { n: number; resolve: () => void }[] = [];
  const notify = (): void => {
    const ready = waiters.filter((w) => requests.length >= w.n);
    waiters = waiters.filter((w) => requests.length < w.n);
    for (const w of ready) w.resolve();
  };

  const packet = (ver: number, cmd: number, status: number, body: Uint8Array): Buffer =>
    encodeResponse(ver, cmd, status, crypto.seal(body));

  const afterHeartbeat = (socket: Socket): void => {
    const good = packet(2, 1, Status.Ok, Buffer.from('after'));
    switch (script.kind) {
      case 'bad-magic': {
        const bad = Buffer.from(good);
        bad[0] = MAGIC[0] ^ 0xff;
        socket.write(bad);
        break;
      }
      case 'too-large': {
        const hdr = Buffer.alloc(11);
        Buffer.from(MAGIC).copy(hdr);
        hdr[4] = 2;
        hdr.writeUIntBE(Math.min(script.length ?? (1 << 20) + 1, 0xffffff), 5, 3);
        hdr.writeUInt16BE(1, 8);
        hdr[10] = Status.Ok;
        socket.write(hdr);
        break;
      }
      case 'truncated':
        socket.end(good.subarray(0, good.length >> 1));
        break;
      case 'die-mid-stream':
        socket.write(good.subarray(0, good.length >> 1), () => socket.destroy());
        break;
      default:
        break;
    }
  };

  const onRequest = (socket: Socket, p: RequestPacket, first: boolean): void => {
    const opened = p.payload.length < SID_SIZE ? null : crypto.open(p.payload.subarray(SID_SIZE));
    const body = opened === null || isOpenError(opened) ? null : Buffer.from(opened);
    requests.push({ ver: p.ver, cmd: p.cmd, body });
    notify();
    if (script.kind === 'never-answer') return;
    if (first && script.kind === 'refuse') {
      socket.end(packet(VER_BUILTIN, BuiltinCmd.Fin, Status.Push, encodeFin('refused')));
      return;
    }
    if (body === null) return;
    if (p.ver === VER_BUILTIN && p.cmd === BuiltinCmd.KeepAlive) {
      const ts = decodeHeartbeat(body) ?? 0;
      socket.write(packet(VER_BUILTIN, BuiltinCmd.KeepAlive, Status.Ok, encodeHeartbeatAnswer('online', ts)));
      if (first) afterHeartbeat(socket);
      return;
    }
    if (script.kind === 'bad-mac-then-good') {
      const forged = packet(p.ver, p.cmd, Status.Ok, body);
      forged[11 + 4] ^= 0x01; // first MAC byte
      socket.write(forged);
    }
    if (script.kind === 'echo' || script.kind === 'bad-mac-then-good') socket.write(packet(p.ver, p.cmd, Status.Ok, body));
  };

  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const re = StreamReassembler.forRequests();
    let first = true;
    socket.on('data', (chunk: Buffer) => {
      re.feed(chunk);
      for (let r = re.next(); r.kind === 'ok'; r = re.next()) {
        onRequest(socket, r.packet, first);
        first = false;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('bad-server: no port');
  const hex = (b: Buffer | undefined): string => (b === undefined ? '' : toHex(b));
  return {
    host,
    port: addr.port,
    endpoint: {
      serverType: 'TCP',
      serverHost: host,
      serverPort: addr.port,
      sid: toHex(sk.sid),
      encryptionKey: hex(sk.keys?.key),
      encryptionIV: hex(sk.keys?.iv),
      encryptionMacKey: hex(sk.keys?.macKey),
    },
    get connections() {
      return connections;
    },
    requests,
    waitForRequests: (n) =>
      new Promise<void>((resolve) => {
        waiters.push({ n, resolve });
        notify();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
