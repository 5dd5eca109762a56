// The C ABI's event types and room-left reasons (appended, never renumbered): the C
// header and the C# constants must agree name for name and number for number, and
// the event numbers run 1..n with no gap (append-only).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const read = (p: string): string => readFileSync(path.join(root, p), 'utf8');
const header = read('bindings/c/include/diarkis.h');
const csharp = read('bindings/unity/Plugins/Diarkis/Diarkis.cs');

function pairs(text: string, re: RegExp): Array<[string, number]> {
  return [...text.matchAll(re)].map((m) => [m[1]!, Number(m[2])]);
}

describe('C ABI constants: diarkis.h and Diarkis.cs', () => {
  it('event types run 1..n in diarkis.h, the first twelve as CAPI.md fixed them', () => {
    const ev = pairs(header, /\bDK_EV_(\w+) = (\d+)/g);
    expect(ev.map(([, n]) => n)).toEqual(ev.map((_, i) => i + 1));
    expect(ev.slice(0, 12).map(([name]) => name)).toEqual([
      'CONNECT', 'DISCONNECT', 'RESPONSE', 'PUSH', 'OFFLINE', 'MIGRATED', 'MIGRATION_FAILED', 'HEARTBEAT', 'ECHO',
      'DRAIN', 'ERROR', 'UNSENT',
    ]);
    expect(ev.length).toBeGreaterThanOrEqual(22);
  });

  it('the C# event constants are the same names and numbers', () => {
    expect(pairs(csharp, /\bEV_(\w+) = (\d+)/g)).toEqual(pairs(header, /\bDK_EV_(\w+) = (\d+)/g));
  });

  it('the room-left reasons agree', () => {
    const c = pairs(header, /\bDK_ROOM_LEFT_(\w+) = (\d+)/g);
    expect(c.map(([name]) => name)).toEqual(['LEAVE', 'REMOVED', 'MIGRATION_TIMEOUT']);
    expect(pairs(csharp, /\bROOM_LEFT_(\w+) = (\d+)/g)).toEqual(c);
  });
});
