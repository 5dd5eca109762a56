// Shared by the response-path suites (TCP and UDP, issue 9): payloads that name their client and
// index, and a client destroyed in the middle of a batch while another keeps receiving.
import { expect } from 'vitest';
import type { BaseClient } from '../../src/client';

/** A payload that names its client and index, `size` bytes long. */
export function payloadOf(client: number, i: number, size: number): Buffer {
  const head = Buffer.from(`c${client}:${i}:`);
  const out = Buffer.alloc(Math.max(size, head.length), 0x61 + ((client + i) % 26));
  head.copy(out);
  return out;
}

/**
 * `a` is destroyed in its 20th response's listener while `a` and `b` each have 200 echoes (7/11)
 * coming: `b` gets all of its own, in order, `a` none after its 'disconnect'.
 */
export async function destroyMidBatch(a: BaseClient, b: BaseClient, send: (c: BaseClient, p: Buffer) => void): Promise<void> {
  const n = 200;
  let aAfterClose = 0;
  let aClosed = false;
  let aSeen = 0;
  a.on('response', () => {
    aSeen++;
    if (aClosed) aAfterClose++;
    if (aSeen === 20) a.destroy();
  });
  const aClose = new Promise<void>((resolve) =>
    a.on('disconnect', () => {
      aClosed = true;
      resolve();
    }),
  );
  const seenB: string[] = [];
  const bDone = new Promise<void>((resolve) =>
    b.on('response', (_v, _c, _s, p) => {
      seenB.push(p.toString());
      if (seenB.length === n) resolve();
    }),
  );
  for (let i = 0; i < n; i++) {
    send(a, payloadOf(0, i, 48));
    send(b, payloadOf(1, i, 48));
  }
  await Promise.all([aClose, bDone]);
  expect(seenB).toEqual(Array.from({ length: n }, (_, i) => payloadOf(1, i, 48).toString()));
  expect(aSeen).toBeGreaterThanOrEqual(20);
  expect(aAfterClose).toBe(0);
  // b is unaffected afterwards too.
  expect((await b.request(7, 11, Buffer.from('still here'))).payload.toString()).toBe('still here');
  await b.close();
}
