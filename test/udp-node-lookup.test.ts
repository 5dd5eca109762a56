// The UDP node's dgram lookup: an IP literal (every address the node sends to comes from a
// datagram) is answered at once, without dns.lookup's extra tick; a name still goes to DNS.
import { describe, expect, it } from 'vitest';
import { literalLookup } from '../src/server/udp-node';

describe('UdpNode literalLookup', () => {
  it('answers IPv4 and IPv6 literals synchronously with their family', () => {
    const got: Array<[string, number]> = [];
    literalLookup('127.0.0.1', { family: 4 }, (err, a, f) => {
      expect(err).toBeNull();
      got.push([a, f]);
    });
    literalLookup('::1', { family: 6 }, (err, a, f) => {
      expect(err).toBeNull();
      got.push([a, f]);
    });
    expect(got).toEqual([
      ['127.0.0.1', 4],
      ['::1', 6],
    ]);
  });

  it('resolves a name through DNS (asynchronously)', async () => {
    let called = false;
    const r = new Promise<[string, number]>((resolve, reject) =>
      literalLookup('localhost', { family: 4 }, (err, a, f) => {
        called = true;
        if (err) reject(err);
        else resolve([a, f]);
      }),
    );
    expect(called).toBe(false);
    const [a, f] = await r;
    expect(f).toBe(4);
    expect(a).toBe('127.0.0.1');
  });
});
