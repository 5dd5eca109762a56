import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchComparison, comparisonLines } from '../src/cli/bench-comparison';

const row = (path: 'migration' | 'reconnect', allMovedMs: number | null, moveP99Ms: number | null, validRounds = 3) => ({
  mode: 'processes', clients: 500, transport: 'UDP', path, validRounds, allMovedMs, moveP99Ms,
});

describe('the demo\'s comparison with reconnecting (bench/migration results)', () => {
  it('puts migration beside reconnect with ratios, date, cores and load', () => {
    const lines = comparisonLines(
      { machine: { date: '2026-11-29T10:40:00Z', cores: 2 }, rounds: 3, summary: [row('migration', 600, 500), row('reconnect', 1200, 1000)], runs: [{ loadAvg: [5.2] }, { loadAvg: [9.8] }] },
      'bench/results/migration.json',
    );
    expect(lines[0]).toBe('bench/results/migration.json (2026-11-29T10:40:00Z, 2 cores, load average 5.2-9.8; migration vs reconnect, medians of 3 rounds):');
    expect(lines[1]).toBe('  processes 500+500 UDP: all moved 600 ms vs 1,200 ms (0.50x), move p99 500 ms vs 1,000 ms (0.50x)');
  });

  it('leaves out rows without valid rounds or figures on both paths', () => {
    expect(comparisonLines({ summary: [row('migration', 600, 500), row('reconnect', 1200, 1000, 0)] }, 'x')).toEqual([]);
    expect(comparisonLines({ summary: [row('migration', null, 500), row('reconnect', 1200, 1000)] }, 'x')).toEqual([]);
  });

  it('without result files it says how to measure', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cmp-'));
    try {
      const text = benchComparison(dir);
      expect(text).toContain('loses the session and its user data');
      expect(text).toContain('node dist/bench/migration.js');
      fs.writeFileSync(path.join(dir, 'migration.json'), JSON.stringify({ summary: [row('migration', 700, 650), row('reconnect', 900, 880)] }));
      fs.writeFileSync(path.join(dir, 'migration-in-process.json'), '{ not json');
      const withFile = benchComparison(dir);
      expect(withFile).toContain('processes 500+500 UDP: all moved 700 ms vs 900 ms (0.78x)');
      expect(withFile).not.toContain('Measure it on this machine');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
