// The migrate answer's address (PROTOCOL 7.4): host:port, IPv6 in brackets; the host's family is
// remembered per host, so a repeated host must still format the same way and hosts must not mix.
import { describe, expect, it } from 'vitest';
import { formatAddress } from '../src/server/handoff';

describe('formatAddress', () => {
  it('brackets IPv6 hosts and leaves IPv4 hosts and names bare, every time', () => {
    for (let i = 0; i < 3; i++) {
      expect(formatAddress('127.0.0.1', 7000 + i)).toBe(`127.0.0.1:${7000 + i}`);
      expect(formatAddress('::1', 7000 + i)).toBe(`[::1]:${7000 + i}`);
      expect(formatAddress('node-1.example', 80)).toBe('node-1.example:80');
      expect(formatAddress('fe80::1', 9)).toBe('[fe80::1]:9');
    }
  });
});
