/**
 * The endpoint API (PROTOCOL section 8): asks the entry server which node to use
 * and gets the session's id and keys.
 */
import * as http from 'node:http';
import * as https from 'node:https';

import { DiarkisError } from './errors';
import type { Endpoint, ServerType } from './types';
import { checkPositive, describe, invalid } from './validate';

export interface GetEndpointOptions {
  type: ServerType;
  uid: string;
  clientKey?: string;
  /** Whole request, connect to last byte (default 10000). */
  timeoutMs?: number;
  /**
   * The HTTP agent (default none: a new connection per call, closed after the answer). A bot or
   * load tool calling this thousands of times can pass `new http.Agent({ keepAlive: true })`
   * (`https.Agent` for https) to reuse connections: a starved entry server answers those sooner.
   */
  agent?: http.Agent;
}

const HEX32 = /^[0-9a-fA-F]{32}$/;
const MAX_BODY = 64 * 1024;

function endpointUrl(entryUrl: string, type: ServerType, uid: string): URL {
  let url: URL;
  try {
    url = new URL(entryUrl);
  } catch {
    throw invalid(`entryUrl is not a URL: ${JSON.stringify(entryUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`entryUrl must be http(s), got ${url.protocol}`);
  const base = url.pathname.replace(/\/+$/, '');
  url.pathname = `${base}/endpoint/type/${type}/user/${encodeURIComponent(uid)}`;
  return url;
}

/** Checks the answer's shape; DiarkisError 'endpoint-error' on anything unusable. */
export function parseEndpoint(body: string): Endpoint {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new DiarkisError('endpoint-error', `the endpoint API answered something that is not JSON: ${JSON.stringify(body.slice(0, 80))}`);
  }
  const bad = (what: string): DiarkisError => new DiarkisError('endpoint-error', `the endpoint API answered a bad ${what}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('body (not an object)');
  const o = v as Record<string, unknown>;
  if (o.serverType !== 'TCP' && o.serverType !== 'UDP') throw bad('serverType');
  if (typeof o.serverHost !== 'string' || o.serverHost === '' || o.serverHost.length > 255) throw bad('serverHost');
  if (typeof o.serverPort !== 'number' || !Number.isInteger(o.serverPort) || o.serverPort < 1 || o.serverPort > 65535) {
    throw bad('serverPort');
  }
  if (typeof o.sid !== 'string' || !HEX32.test(o.sid)) throw bad('sid (want 32 hex characters)');
  const keys = [o.encryptionKey, o.encryptionIV, o.encryptionMacKey];
  if (!keys.every((k): k is string => typeof k === 'string')) throw bad('encryption key field (not a string)');
  const allEmpty = keys.every((k) => k === '');
  if (!allEmpty && !keys.every((k) => HEX32.test(k))) throw bad('encryption key (want 32 hex characters each, or all empty)');
  return {
    serverType: o.serverType,
    serverHost: o.serverHost,
    serverPort: o.serverPort,
    sid: o.sid,
    encryptionKey: keys[0],
    encryptionIV: keys[1],
    encryptionMacKey: keys[2],
  };
}

function statusError(status: number, body: string): DiarkisError {
  const detail = body.slice(0, 200);
  switch (status) {
    case 503:
      return new DiarkisError('endpoint-unavailable', `the endpoint API has no node to hand out (503): ${detail}`);
    case 401:
      return new DiarkisError('unauthorized', `the endpoint API refused the client key (401): ${detail}`);
    case 400:
      return new DiarkisError('invalid-argument', `the endpoint API rejected the request (400): ${detail}`);
    default:
      return new DiarkisError('endpoint-error', `the endpoint API answered HTTP ${status}: ${detail}`);
  }
}

function networkError(err: NodeJS.ErrnoException, url: URL): DiarkisError {
  if (err.code === 'ECONNREFUSED') return new DiarkisError('refused', `the endpoint API at ${url.host} refused the connection`);
  return new DiarkisError('network-error', `the endpoint API at ${url.host} is unreachable: ${err.message}`);
}

/** Asks the entry server for a node and the session's keys. */
export function getEndpoint(entryUrl: string, options: GetEndpointOptions): Promise<Endpoint> {
  let url: URL;
  let timeoutMs: number;
  try {
    if (typeof entryUrl !== 'string') throw invalid(`entryUrl must be a string, got ${describe(entryUrl)}`);
    if (typeof options !== 'object' || options === null) throw invalid(`options must be an object, got ${describe(options)}`);
    if (options.type !== 'TCP' && options.type !== 'UDP') throw invalid(`options.type must be 'TCP' or 'UDP', got ${describe(options.type)}`);
    if (typeof options.uid !== 'string' || options.uid === '') throw invalid('options.uid must be a non-empty string');
    if (options.clientKey !== undefined && typeof options.clientKey !== 'string') throw invalid('options.clientKey must be a string');
    timeoutMs = options.timeoutMs === undefined ? 10_000 : checkPositive('options.timeoutMs', options.timeoutMs, 1, 3_600_000);
    url = endpointUrl(entryUrl, options.type, options.uid);
    if (options.agent !== undefined) {
      const secure = url.protocol === 'https:';
      if (!(options.agent instanceof http.Agent) || secure !== options.agent instanceof https.Agent) {
        throw invalid(`options.agent must be an ${secure ? 'https' : 'http'}.Agent for ${url.protocol} URLs, got ${describe(options.agent)}`);
      }
    }
  } catch (err) {
    return Promise.reject(err);
  }
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.clientKey !== undefined) headers.ClientKey = options.clientKey;
  const get = url.protocol === 'https:' ? https.get : http.get;

  return new Promise<Endpoint>((resolve, reject) => {
    let settled = false;
    const settle = (err: DiarkisError | undefined, ep?: Endpoint): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      if (err) reject(err);
      else if (ep) resolve(ep);
    };
    const req = get(url, { headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) settle(new DiarkisError('endpoint-error', `the endpoint API answer exceeds ${MAX_BODY} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', (err: NodeJS.ErrnoException) => settle(networkError(err, url)));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status !== 200) return settle(statusError(status, body));
        try {
          settle(undefined, parseEndpoint(body));
        } catch (err) {
          settle(err as DiarkisError);
        }
      });
      res.on('aborted', () => settle(new DiarkisError('endpoint-error', 'the endpoint API closed the connection mid-answer')));
    });
    req.on('error', (err: NodeJS.ErrnoException) => settle(networkError(err, url)));
    const timer = setTimeout(
      () => settle(new DiarkisError('timeout', `the endpoint API did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
}
