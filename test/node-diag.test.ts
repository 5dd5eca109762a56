// bench instrumentation of a node process (`--log-diag`, issue 12): loop stalls with the CPU used
// over them, on a fake clock.
import { expect, it } from 'vitest';
import { LAG_MIN_MS, startLagSampler } from '../src/cli/node-diag';

it('records a late tick as a stall with the CPU used meanwhile, and nothing for on-time ticks', () => {
  let now = 1000;
  let cpu = 0;
  let tick: () => void = () => undefined;
  let cancelled = false;
  const s = startLagSampler({ now: () => now, cpuMs: () => cpu, every: (fn) => (tick = fn), cancel: () => (cancelled = true) });
  now += 10;
  cpu += 2;
  tick(); // on time
  now += 10 + LAG_MIN_MS - 1;
  tick(); // within the slack
  now += 60;
  cpu += 55;
  tick(); // 50 ms late, the process busy (its own work)
  now += 130;
  cpu += 1;
  tick(); // 120 ms late, the process not running
  const r = s.result();
  expect(r.stalls).toEqual([
    [now - 130, 50, 55],
    [now, 120, 1],
  ]);
  expect(typeof r.sender.rtoResend).toBe('number');
  expect(typeof r.node.synLookups).toBe('number');
  s.stop();
  expect(cancelled).toBe(true);
});
