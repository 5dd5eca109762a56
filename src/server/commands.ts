/**
 * User command handlers (the router) and the sample commands every node serves (DESIGN.md,
 * "The reference cluster").
 */
import { Status } from '../protocol';
import type { CommandContext, CommandHandler, HandlerResult, JsonValue } from './types';

export class CommandRouter {
  private readonly handlers = new Map<number, CommandHandler>();

  handle(ver: number, cmd: number, handler: CommandHandler): void {
    if (!Number.isInteger(ver) || ver < 0 || ver > 0xff) throw new RangeError(`ver out of range: ${ver}`);
    if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xffff) throw new RangeError(`cmd out of range: ${cmd}`);
    this.handlers.set(ver * 0x10000 + cmd, handler);
  }

  get(ver: number, cmd: number): CommandHandler | undefined {
    return this.handlers.get(ver * 0x10000 + cmd);
  }
}

export interface Answer {
  status: number;
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** A handler's return value as an answer; an invalid status becomes 5 (server error). */
export function toAnswer(r: HandlerResult): Answer {
  if (r === undefined) return { status: Status.Ok, payload: EMPTY };
  if (r instanceof Uint8Array) return { status: Status.Ok, payload: r };
  const status = r.status ?? Status.Ok;
  const valid = status === Status.Ok || status === Status.Bad || status === Status.Err;
  return valid ? { status, payload: r.payload ?? EMPTY } : { status: Status.Err, payload: EMPTY };
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function num(v: JsonValue | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

const BAD: HandlerResult = { status: Status.Bad };

/** Bounds of 2/6 subscribe, so one request cannot schedule an unbounded stream. */
export const SUBSCRIBE_MAX_COUNT = 1_000_000;
export const SUBSCRIBE_MAX_INTERVAL_MS = 60_000;

export interface SampleEnv {
  /** The cluster's push routing (follows the user across a migration). */
  routePush(uid: string, ver: number, cmd: number, payload: Buffer): Promise<boolean>;
  /** Schedules `fn` after `ms`; the cluster cancels what is left on stop. */
  schedule(ms: number, fn: () => void): void;
}

export function registerSampleCommands(router: CommandRouter, env: SampleEnv): void {
  router.handle(2, 1, (ctx) => ctx.payload);

  router.handle(2, 2, (ctx) => {
    const n = (num(ctx.data.counter) + 1) >>> 0;
    ctx.data.counter = n;
    return u32(n);
  });

  // Push first, then answer, so the push arrives before the answer; the answer keeps FIFO pairing.
  router.handle(2, 3, (ctx) => {
    ctx.push(2, 3, ctx.payload);
  });

  router.handle(2, 4, (ctx) => {
    if (ctx.payload.length !== 4) return BAD;
    const n = ctx.payload.readUInt32BE(0);
    const last = num(ctx.data.lastSeq);
    if (n <= last) ctx.data.dups = num(ctx.data.dups) + 1;
    else if (n > last + 1) ctx.data.gaps = num(ctx.data.gaps) + (n - last - 1);
    ctx.data.lastSeq = Math.max(n, last);
    return u32(Math.max(n, last));
  });

  router.handle(2, 5, (ctx) => Buffer.from(JSON.stringify(ctx.data), 'utf8'));

  router.handle(2, 6, (ctx: CommandContext) => {
    if (ctx.payload.length !== 8) return BAD;
    const count = ctx.payload.readUInt32BE(0);
    const interval = ctx.payload.readUInt32BE(4);
    if (count > SUBSCRIBE_MAX_COUNT || interval > SUBSCRIBE_MAX_INTERVAL_MS) return BAD;
    const uid = ctx.uid;
    let i = 0;
    const step = (): void => {
      i++;
      // Through the routing, not ctx.push: the stream follows the user wherever it is.
      void env.routePush(uid, 2, 6, u32(i)).then((routed) => {
        if (routed && i < count) env.schedule(interval, step);
      });
    };
    if (count > 0) env.schedule(interval, step);
    return undefined;
  });
}
