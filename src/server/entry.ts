/**
 * The endpoint API (PROTOCOL.md section 8) over node:http:
 * GET /endpoint/type/{UDP|TCP}/user/{uid}, header ClientKey.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { ENDPOINT_HTTP, randomSessionSecrets, toHex } from '../protocol';
import type { ClusterStore, SessionRecord } from './store';
import type { NodeInfo, NodeType } from './types';
import { LISTEN_BACKLOG } from './limits';
import { PortRotation } from './node-ports';

export interface EntryOptions {
  host: string;
  /** Listening port (default 0: ephemeral). */
  port?: number;
  store: ClusterStore;
  encryption: boolean;
  /** Accepted client keys; undefined or empty = any key (or none) is accepted. */
  clientKeys?: readonly string[];
  /** Registers the session on the chosen node (and in the store) before the client is answered. */
  register(node: NodeInfo, rec: SessionRecord): Promise<void>;
  /** A request failed inside (e.g. the store is unreachable); the client got HTTP 500. */
  onError?(err: unknown): void;
}

/** The JSON answer, field names exactly as PROTOCOL section 8. */
export interface EndpointAnswer {
  serverType: NodeType;
  serverHost: string;
  serverPort: number;
  sid: string;
  encryptionKey: string;
  encryptionIV: string;
  encryptionMacKey: string;
}

const PATH = /^\/endpoint\/type\/([^/]+)\/user\/([^/]+)\/?$/;
const MAX_UID_LENGTH = 256;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function decodeUid(raw: string): string | null {
  let uid: string;
  try {
    uid = decodeURIComponent(raw);
  } catch {
    return null;
  }
  // eslint-disable-next-line no-control-regex
  if (uid.length === 0 || uid.length > MAX_UID_LENGTH || /[\u0000-\u001f\u007f]/.test(uid)) return null;
  return uid;
}

export class EntryServer {
  /** A UDP node's sessions spread over its sockets (PortRotation). */
  private readonly ports = new PortRotation();
  private readonly server: Server;
  private url = '';

  constructor(private readonly opts: EntryOptions) {
    this.server = createServer((req, res) => {
      this.onRequest(req, res).catch((err: unknown) => {
        this.opts.onError?.(err);
        if (!res.headersSent) send(res, 500, { error: 'internal', message: 'endpoint failed' });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 1000;
  }

  get entryUrl(): string {
    return this.url;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: this.opts.port ?? 0, host: this.opts.host, backlog: LISTEN_BACKLOG }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (addr === null || typeof addr === 'string') throw new Error('entry: no port');
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `http://${host}:${addr.port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    const m = PATH.exec(path);
    if (req.method !== 'GET' || m === null) {
      send(res, 404, { error: 'not-found', message: 'GET /endpoint/type/{UDP|TCP}/user/{uid}' });
      return;
    }
    const type = m[1];
    if (type !== 'UDP' && type !== 'TCP') {
      send(res, ENDPOINT_HTTP.badRequest, { error: 'bad-type', message: 'type must be UDP or TCP' });
      return;
    }
    const uid = decodeUid(m[2]);
    if (uid === null) {
      send(res, ENDPOINT_HTTP.badRequest, { error: 'bad-uid', message: 'uid must be 1..256 printable characters' });
      return;
    }
    const header = req.headers['clientkey'];
    const clientKey = Array.isArray(header) ? (header[0] ?? '') : (header ?? '');
    const keys = this.opts.clientKeys;
    if (keys !== undefined && keys.length > 0 && !keys.includes(clientKey)) {
      send(res, ENDPOINT_HTTP.unauthorized, { error: 'unauthorized', message: 'wrong client key' });
      return;
    }
    const node = await this.opts.store.pickNode(type);
    if (node === null) {
      send(res, ENDPOINT_HTTP.noNode, { error: 'no-node', message: `no ONLINE ${type} node` });
      return;
    }
    const secrets = randomSessionSecrets();
    const enc = this.opts.encryption;
    const rec: SessionRecord = {
      uid,
      sid: toHex(secrets.sid),
      nodeId: node.id,
      key: enc ? toHex(secrets.key) : '',
      iv: enc ? toHex(secrets.iv) : '',
      macKey: enc ? toHex(secrets.macKey) : '',
      clientKey,
      data: {},
    };
    await this.opts.register(node, rec);
    const answer: EndpointAnswer = {
      serverType: type,
      serverHost: node.host,
      // UDP: sessions spread over the node's sockets (each read 32 datagrams per loop turn); TCP
      // reads every connection on its own, so its extra listeners serve migrations only.
      serverPort: type === 'UDP' ? this.ports.pick(node) : node.port,
      sid: rec.sid,
      encryptionKey: rec.key,
      encryptionIV: rec.iv,
      encryptionMacKey: rec.macKey,
    };
    send(res, 200, answer);
  }
}
