// `diarkis-node demo` end to end in a child process (the compiled dist/): 20 bots, half TCP and
// half UDP, on the embedded 2+2 cluster; the JSON report must show nothing lost or duplicated.
import { beforeAll, describe, expect, it } from 'vitest';
import { killAfter, requireDist, runFixture } from './fixtures/spawn';

// runFixture resolves scripts against test/fixtures; the CLI is two levels up in dist/.
const CLI = '../../dist/src/cli/main.js';

interface Row {
  clients: number;
  connected: number;
  offline: number;
  migrated: number;
  gapP50Ms: number | null;
  gapP99Ms: number | null;
  sent: number;
  answered: number;
  lost: number;
  duplicated: number;
  wrongAnswers: number;
  pushesExpected: number;
  pushesReceived: number;
  pushesDuplicated: number;
  pushesOutOfOrder: number;
}
interface Report {
  ok: boolean;
  problems: string[];
  errors: string[];
  total: Row;
  byType: { TCP?: Row; UDP?: Row };
  rooms?: Record<string, number>;
}

async function demo(args: string[]): Promise<{ code: number | null; report: Report; stderr: string }> {
  const child = runFixture(CLI, ['demo', '--bots', '20', '--duration', '3', '--offline-after', '1', '--json', ...args]);
  killAfter(child, 55_000);  // safety net only: a hang fails the test with a kill
  const code = await child.exited;
  return { code, report: JSON.parse(child.stdout()) as Report, stderr: child.stderr() };
}

function expectNothingLost(r: Row): void {
  expect(r.connected).toBe(r.clients);
  expect(r.sent).toBeGreaterThan(0);
  expect(r.answered).toBe(r.sent);
  expect(r.lost).toBe(0);
  expect(r.duplicated).toBe(0);
  expect(r.wrongAnswers).toBe(0);
  expect(r.pushesReceived).toBe(r.pushesExpected);
  expect(r.pushesDuplicated).toBe(0);
  expect(r.pushesOutOfOrder).toBe(0);
}

beforeAll(() => requireDist());

describe('demo', () => {
  it('20 mixed bots without migration: every message answered, every push received, exit 0', async () => {
    const { code, report, stderr } = await demo(['--offline', 'none']);
    expect(report.problems).toEqual([]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.byType.TCP?.clients).toBe(10);
    expect(report.byType.UDP?.clients).toBe(10);
    expectNothingLost(report.total);
    expect(report.total.offline).toBe(0);
    expect(stderr).toContain('cluster up: entry http://127.0.0.1:');
  });
});

describe('demo with live migration', () => {
  for (const mode of ['auto', 'manual'] as const) {
    it(`${mode}: every bot on the offline TCP and UDP nodes migrates, nothing lost or duplicated, exit 0`, async () => {
      const { code, report } = await demo(['--migration', mode]);
      expect(report.problems).toEqual([]);
      expect(code).toBe(0);
      const tcp = report.byType.TCP as Row;
      // least-users placement: half of the TCP bots are on tcp-1
      expect(tcp.offline).toBe(5);
      expect(tcp.migrated).toBe(5);
      expect(tcp.gapP50Ms).not.toBeNull();
      expect(tcp.gapP99Ms).toBeGreaterThanOrEqual(tcp.gapP50Ms as number);
      expect([report.byType.UDP?.offline, report.byType.UDP?.migrated]).toEqual([5, 5]);
      expectNothingLost(report.total);
      // Bots in rooms of 6 by default: rooms held by the offline nodes moved, nobody lost.
      const rooms = report.rooms ?? {};
      expect(rooms.rooms).toBe(4);
      expect(rooms.migrated).toBeGreaterThan(0);
      expect(rooms.kept).toBe(4);
      expect([rooms.lost, rooms.duplicated, rooms.outOfOrder]).toEqual([0, 0, 0]);
      expect(rooms.received).toBe(rooms.expected);
    });
  }
});
