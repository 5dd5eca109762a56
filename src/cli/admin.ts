/**
 * The `cluster` command's small admin HTTP endpoint, and its client for `node-state`/`nodes`:
 *   GET  /admin/nodes                 -> 200 [{ id, type, host, port, ports?, state, users }]
 *   POST /admin/nodes/:id/state {state} -> 200 { id, state } | 400 bad state | 404 unknown node
 * Loopback by default: it changes the cluster, so do not expose it.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster, NodeInfo } from '../server';

const MAX_BODY = 4096;

export interface AdminServer {
  url: string;
  close(): Promise<void>;
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(cluster: Cluster, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (url.pathname === '/admin/nodes') {
    if (req.method !== 'GET') return reply(res, 405, { error: 'use GET' });
    return reply(res, 200, cluster.nodes);
  }
  const m = /^\/admin\/nodes\/([^/]+)\/state$/.exec(url.pathname);
  if (m === null) return reply(res, 404, { error: 'not found' });
  if (req.method !== 'POST') return reply(res, 405, { error: 'use POST' });
  const id = decodeURIComponent(m[1] ?? '');
  if (!cluster.nodes.some((n) => n.id === id)) return reply(res, 404, { error: `unknown node: ${id}` });
  let state: unknown;
  try {
    state = (JSON.parse(await readBody(req)) as { state?: unknown }).state;
  } catch {
    return reply(res, 400, { error: 'body must be JSON {"state": "online|taken|offline"}' });
  }
  if (state !== 'online' && state !== 'taken' && state !== 'offline') {
    return reply(res, 400, { error: `bad state: ${JSON.stringify(state)} (online, taken or offline)` });
  }
  await cluster.setNodeState(id, state);
  return reply(res, 200, { id, state });
}

export function startAdminServer(cluster: Cluster, host: string, port: number): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    handle(cluster, req, res).catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address() as AddressInfo;
      const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      resolve({
        url: `http://${shown}:${addr.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function call(url: string, init?: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(`cannot reach the admin endpoint ${url}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`admin endpoint answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const msg = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : text;
    throw new Error(`admin endpoint answered ${res.status}: ${msg}`);
  }
  return body;
}

const base = (adminUrl: string): string => adminUrl.replace(/\/+$/, '');

export async function fetchNodes(adminUrl: string): Promise<NodeInfo[]> {
  return (await call(`${base(adminUrl)}/admin/nodes`)) as NodeInfo[];
}

export async function postNodeState(adminUrl: string, id: string, state: string): Promise<{ id: string; state: string }> {
  return (await call(`${base(adminUrl)}/admin/nodes/${encodeURIComponent(id)}/state`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ state }),
  })) as { id: string; state: string };
}
