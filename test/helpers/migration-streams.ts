// Helpers shared by the live-migration tests of both transports: the request
// stream (2/4), the push stream (2/6) and the user's data (2/2, 2/5) that show
// nothing was lost, duplicated or reordered across a move.
import { expect } from 'vitest';
import type { BaseClient, MigrationInfo } from '../../src/client';

export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};
/** Body of 2/6: `count` pushes, one every `intervalMs`. */
export const subscribe = (count: number, intervalMs: number): Buffer => Buffer.concat([u32(count), u32(intervalMs)]);
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Records a client's 2/6 pushes and resolves once `count` arrived. */
export function pushLog(client: BaseClient, count: number): { seen: number[]; done: Promise<void> } {
  const seen: number[] = [];
  let finish = (): void => undefined;
  const done = new Promise<void>((r) => (finish = r));
  client.on('push', (ver, cmd, p) => {
    if (ver !== 2 || cmd !== 6) return;
    seen.push(p.readUInt32BE(0));
    if (seen.length === count) finish();
  });
  return { seen, done };
}

/** 2/4 requests numbered from 1, a few per event-loop turn, until stop() (or `max`). */
export function sequencer(client: BaseClient, max = 100_000): { stop: () => Promise<number> } {
  let sent = 0;
  let running = true;
  const answers: Array<Promise<unknown>> = [];
  const loop = (async () => {
    while (running && sent < max) {
      for (let i = 0; i < 4 && sent < max; i++) answers.push(client.request(2, 4, u32(++sent)));
      await tick();
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      await Promise.all(answers);
      return sent;
    },
  };
}

export interface UserData {
  lastSeq: number;
  gaps?: number;
  dups?: number;
  counter?: number;
}

export async function userData(client: BaseClient): Promise<UserData> {
  const r = await client.request(2, 5);
  expect(r.status).toBe(1);
  return JSON.parse(r.payload.toString('utf8')) as UserData;
}

export async function counter(client: BaseClient): Promise<number> {
  return (await client.request(2, 2)).payload.readUInt32BE(0);
}

export function waitMigrated(client: BaseClient): Promise<MigrationInfo> {
  return new Promise((resolve) => client.once('migrated', resolve));
}
