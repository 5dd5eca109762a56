// The loop driver (the default) writes a turn's UDP output at the end of that turn: no
// pack delay (a turn's sends already share DATs); ACK datagrams are paced at most one per
// 8 ms (the reference node's probe allows 9 ms for it, test/rudp-ack-allowance.test.ts): the
// first after a quiet time goes at its turn's flush, later ones wait for the pace unless a DAT
// of the same flush takes them along (bindings/node parseUdpOptions; docs/decisions.md,
// issues 9, 10 and 12).
// The pace cuts the ACK datagrams of a 2000-echo burst by about 60 %; its timing is tested
// with a fake clock in test/native/rudp_recovery_test.cc (the channel). Here: through
// options the addon really gives a client and the client's own datagram counter at points
// the event loop orders, never through elapsed time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEndpoint, UdpClient } from '../src/client';
import { nativeAddon } from '../src/client/dispatch';
import { startCluster, type Cluster } from '../src/server';

describe('UdpClient output on the loop driver', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 0, udpNodes: 1 });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('creates loop-driver sessions without pack delay and with an 8 ms ACK pace; the thread driver keeps 1 ms / 2 ms', () => {
    const native = nativeAddon();
    expect(native.udpFlushDelaysForTest({})).toEqual({ packDelayMs: 0, ackDelayMs: 8 });
    expect(native.udpFlushDelaysForTest({ io: 'loop' })).toEqual({ packDelayMs: 0, ackDelayMs: 8 });
    expect(native.udpFlushDelaysForTest({ io: 'thread' })).toEqual({ packDelayMs: 1, ackDelayMs: 2 });
  });

  it("writes a turn's sends in one DAT, and held ACK records leave with it", async () => {
    expect(process.env.DIARKIS_IO ?? 'loop').toBe('loop');  // the default driver is what this file tests
    const client = new UdpClient();
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'flush-1' }));
    const body = Buffer.alloc(64, 7);
    await client.request(2, 1, body);  // the session's first messages are behind us
    const sent = (): number => client.stats().packetsSent - client.stats().retransmits;
    let total = 0;
    for (let i = 0; i < 5; i++) {
      const s0 = sent();
      const answer = await client.request(2, 1, body);
      // The request's DAT, and the ACKs of this and the previous answer, each either at its
      // turn's flush (first after a quiet time), with a DAT, or on the pace: 1 to 3 datagrams.
      const d = sent() - s0;
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(3);
      total += d;
      expect(answer.status).toBe(1);
    }
    expect(total).toBeLessThanOrEqual(11);
    // Eight small reliable sends made in one turn leave as one DAT at the end of the turn
    // (8 encrypted 16-byte requests fit one 1400-byte DAT body), with the last answer's
    // ACK record in its own datagram beside it if it was waiting for the pace.
    const s0 = sent();
    const answers = Array.from({ length: 8 }, () => client.request(2, 1, body.subarray(0, 16)));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(sent() - s0).toBeGreaterThanOrEqual(1);
    expect(sent() - s0).toBeLessThanOrEqual(2);
    await Promise.all(answers);
    await client.close();
  });
});
