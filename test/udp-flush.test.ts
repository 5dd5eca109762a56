// The loop driver (the default) writes a turn's UDP output at the end of that turn: no
// pack delay, no ACK delay (bindings/node parseUdpOptions; docs/decisions.md, issues 9
// and 12). With the 1 ms / 2 ms delays back, every client would wait a timer per message:
// 200 clients in one process cost 10x the CPU per echo. Observed through options the
// addon really gives a client and the client's own datagram counter at points the event
// loop orders, never through elapsed time.
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

  it('creates loop-driver sessions without pack or ACK delay; the thread driver keeps them', () => {
    const native = nativeAddon();
    expect(native.udpFlushDelaysForTest({})).toEqual({ packDelayMs: 0, ackDelayMs: 0 });
    expect(native.udpFlushDelaysForTest({ io: 'loop' })).toEqual({ packDelayMs: 0, ackDelayMs: 0 });
    expect(native.udpFlushDelaysForTest({ io: 'thread' })).toEqual({ packDelayMs: 1, ackDelayMs: 2 });
  });

  it("writes an answer's ACK before the answer reaches JavaScript, and a turn's sends in one datagram", async () => {
    expect(process.env.DIARKIS_IO ?? 'loop').toBe('loop');  // the default driver is what this file tests
    const client = new UdpClient();
    await client.connect(await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'flush-1' }));
    const body = Buffer.alloc(64, 7);
    await client.request(2, 1, body);  // the session's first messages are behind us
    const sent = (): number => client.stats().packetsSent - client.stats().retransmits;
    for (let i = 0; i < 5; i++) {
      const s0 = sent();
      const answer = await client.request(2, 1, body);
      // Read in the answer's own continuation: its DAT and the ACK of the answer are out.
      expect(sent() - s0).toBe(2);
      expect(answer.status).toBe(1);
    }
    // Eight small reliable sends made in one turn leave as one DAT at the end of the turn
    // (8 encrypted 16-byte requests fit one 1400-byte DAT body).
    const s0 = sent();
    const answers = Array.from({ length: 8 }, () => client.request(2, 1, body.subarray(0, 16)));
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(sent() - s0).toBe(1);
    await Promise.all(answers);
    await client.close();
  });
});
