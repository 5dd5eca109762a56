/**
 * The reference node's tail-loss probe allows for the client's ACK pace (QUIC's max_ack_delay):
 * the client's loop driver holds ACK records up to its pace after its previous ACK datagram, and a
 * probe that fires before that ACK arrives is a spurious resend. Fake clock, the node's sender
 * (ReliableSender, sans-I/O), the pace the addon really gives a default UdpClient, and the worst
 * case: a short path whose smoothed RTT comes from one undelayed sample, then two DATs whose
 * records wait the whole pace. Fails if the default pace outgrows the allowance (and the 10 ms floor).
 */
import { describe, expect, it } from 'vitest';
import { nativeAddon } from '../src/client/dispatch';
import { RUDP_PEER_MAX_ACK_DELAY_MS } from '../src/protocol/ours';
import { Flag, ReliableSender } from '../src/protocol/rudp';

describe("the node's probe and the client's ACK pace", () => {
  const pace = nativeAddon().udpFlushDelaysForTest({}).ackDelayMs;

  it('the default pace is within the allowance', () => {
    expect(pace).toBeGreaterThan(0);
    expect(pace).toBeLessThan(RUDP_PEER_MAX_ACK_DELAY_MS);
  });

  for (const oneWay of [0.05, 0.25, 1, 3]) {
    it(`sends no probe before the paced ACK arrives (one way ${oneWay} ms)`, () => {
      const sent: Buffer[] = [];
      const s = new ReliableSender({ initialSeq: 100, adaptive: true }, (d) => sent.push(d));
      s.send(Buffer.from([1]), 0, true);
      s.send(Buffer.from([2]), 0.01, true);
      s.send(Buffer.from([3]), 0.01, true);
      // The peer acknowledges 100 at once (its first ACK after a quiet time); 101 and 102 reach it
      // right after, so their records wait one pace after that ACK datagram left.
      const ackLeft = oneWay;
      s.onAck({ seq: 100, flag: Flag.ACK }, ackLeft + oneWay);
      const pacedArrives = ackLeft + pace + oneWay;
      const deadline = s.nextDeadline() as number;
      expect(deadline).toBeGreaterThan(pacedArrives);
      s.tick(pacedArrives - 0.001);
      s.onAck({ seq: 101, flag: Flag.ACK }, pacedArrives);
      s.onAck({ seq: 102, flag: Flag.ACK }, pacedArrives);
      expect(s.stats.retransmits).toBe(0);
      expect(sent.length).toBe(3);
      expect(s.idle).toBe(true);
    });
  }
});
