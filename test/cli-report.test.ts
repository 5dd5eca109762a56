// The demo's verdict (src/cli/report.ts): every bot of the offline nodes must move; with the
// offline notices paced, not every one is told first (a room member handed off with its room).
import { describe, expect, it } from 'vitest';
import type { BotResult } from '../src/cli/bot';
import { buildReport } from '../src/cli/report';

const bot = (i: number, over: Partial<BotResult>): BotResult => ({
  uid: `b${i}`, type: i % 2 === 0 ? 'TCP' : 'UDP', connected: true, error: null, sent: 10, answered: 10,
  wrongAnswers: 0, lost: 0, duplicated: 0, offline: false, migrations: 0, from: null, to: null, tookMs: null,
  gapMs: null, pushesExpected: 0, pushesReceived: 0, pushesDuplicated: 0, pushesOutOfOrder: 0, ...over,
});
/** 20 bots: the first `moved` migrated, the first `told` of them were told first; 10 stayed. */
const bots = (moved: number, told: number): BotResult[] =>
  Array.from({ length: 20 }, (_, i) => bot(i, i < moved ? { migrations: 1, offline: i < told, gapMs: 5 } : {}));

describe('demo report', () => {
  it('passes when every bot of the offline nodes moved, told or handed off untold', () => {
    const r = buildReport(bots(10, 4), { migration: 'auto', expectedOffline: 10 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('fails when a bot of the offline nodes did not move', () => {
    const r = buildReport(bots(9, 9), { migration: 'auto', expectedOffline: 10 });
    expect(r.ok).toBe(false);
    expect(r.problems).toContain('9 bots moved, expected the 10 of the offline nodes');
  });

  it('fails when a told bot did not move', () => {
    const results = bots(10, 10);
    results[10] = { ...results[10]!, offline: true };
    const r = buildReport(results, { migration: 'auto', expectedOffline: 10 });
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/bots told to migrate did not|more than its 10/);
  });
});
