// The migrate answer's address (PROTOCOL 7.4): host:port, IPv6 in brackets; the host's family is
// remembered per host, so a repeated host must still format the same way and hosts must not mix.
import { describe, expect, it } from 'vitest';
import { formatAddress, newTicket, TICKETS_PER_FILL } from '../src/server/handoff';

describe('formatAddress', () => {
  it('brackets IPv6 hosts and leaves IPv4 hosts and names bare, every time', () => {
    for (let i = 0; i < 3; i++) {
      expect(formatAddress('127.0.0.1', 7000 + i)).toBe(`127.0.0.1:${7000 + i}`);
      expect(formatAddress('::1', 7000 + i)).toBe(`[::1]:${7000 + i}`);
      expect(formatAddress('node-1.example', 80)).toBe('node-1.example:80');
      expect(formatAddress('fe80::1', 9)).toBe('[fe80::1]:9');
      expect(formatAddress('fe80::1%eth0', 9)).toBe('[fe80::1%eth0]:9');
      expect(formatAddress('[::1]', 9)).toBe('[::1]:9');
    }
  });
});

describe('newTicket', () => {
  it('hands out 16-byte tickets that never repeat and never change when the pool is refilled', () => {
    const n = TICKETS_PER_FILL * 3 + 7;
    const tickets = Array.from({ length: n }, () => newTicket());
    const hex = tickets.map((t) => t.toString('hex'));
    expect(tickets.every((t) => t.length === 16)).toBe(true);
    expect(new Set(hex).size).toBe(n);
    for (let i = 0; i < TICKETS_PER_FILL * 2; i++) newTicket();
    expect(tickets.map((t) => t.toString('hex'))).toEqual(hex);
  });
});
