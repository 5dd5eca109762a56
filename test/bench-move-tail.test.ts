// bench/migration --diag's parsers and tail cut (issue 12, eighth session).
import { expect, it } from 'vitest';
import { PhaseLog } from '../src/server';
import { longestStall, moveBreakdowns, tailReport, TAIL_STEPS } from '../bench/lib/move-tail';
import { parseProcUdp, parseSnmp } from '../bench/lib/udp-sockets';

it('reads the Udp counters of /proc/net/snmp and the ports, queues and drops of /proc/net/udp', () => {
  const snmp = 'Ip: Forwarding\nIp: 1\nUdp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors\nUdp: 10 2 7 11 7\nUdpLite: InDatagrams\nUdpLite: 0\n';
  expect(parseSnmp(snmp)).toEqual({ InDatagrams: 10, NoPorts: 2, InErrors: 7, OutDatagrams: 11, RcvbufErrors: 7 });
  const udp = [
    '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  1: 0100007F:A0D2 00000000:0000 07 00000000:00000340 00:00000000 00000000     0        0 1 2 0000000000000000 3',
    '  2: 0100007F:C001 0100007F:A0D2 01 00000000:00000000 00:00000000 00000000     0        0 2 2 0000000000000000 0',
  ].join('\n');
  expect(parseProcUdp(udp)).toEqual([
    { localPort: 0xa0d2, remotePort: 0, rxQueue: 0x340, drops: 3 },
    { localPort: 0xc001, remotePort: 0xa0d2, rxQueue: 0, drops: 0 },
  ]);
});

it('cuts each move into steps that add up to it and picks the slowest share', () => {
  const log = new PhaseLog();
  const origin = 0;
  const bots = [10, 20, 30, 400].map((slow, i) => {
    const sid = `s${i}`;
    const off = 1000;
    const phases: Array<[Parameters<PhaseLog['add']>[0]['phase'], string, number]> = [
      ['notice-sent', 'old', 995], ['migrate-request', 'old', 1002], ['handoff-stored', 'old', 1010], ['answer-sent', 'old', 1010],
      ['target-accepted', 'new', 1030 + slow], ['claim-checked', 'new', 1040 + slow],
    ];
    for (const [phase, nodeId, at] of phases) log.add({ nodeId, sid, phase, at });
    log.add({ nodeId: 'old', sid: null, phase: 'offline-notice', at: 600 });
    return { sid, offlineAt: off, migratedEpochMs: 1045 + slow, movedAt: 1060 + slow, lastOldAnswerAt: null, retransmitsAtOffline: 0, retransmitsAtMoved: i === 3 ? 1 : 0 };
  });
  const stalls: Array<[number, number, number]> = [[1300, 200, 190]];
  const moves = moveBreakdowns(log, bots, { new: { stalls, gc: [], sender: {}, node: {} } }, [], 'old', 'new', origin);
  expect(moves).toHaveLength(4);
  for (const m of moves) expect(m.steps.reduce((a, x) => a + x, 0)).toBeCloseTo(m.moveMs);
  const r = tailReport(moves, 0.25);
  expect(r.tailMoves).toBe(1);
  expect(r.slowest[0]?.moveMs).toBe(460);
  expect(r.tailStepsMs[TAIL_STEPS.indexOf('answer-sent → target-accepted')]).toBe(420);
  expect(r.tailDominantStep['answer-sent → target-accepted']).toBe(1);
  expect(r.tailWithResends).toBe(1);
  expect(r.tailMedianStallMs.target).toBe(200);
  expect(longestStall(stalls, 0, 1099)).toBe(0);
  expect(r.noticeAfterOfflineMs).toEqual({ tail: 395, all: 395 });
});
