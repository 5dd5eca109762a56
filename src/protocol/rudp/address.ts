/** A UDP peer address, and its text form "ip:port" ("[v6]:port" for IPv6). */
export interface PeerAddr {
  address: string;
  port: number;
}

export function addrKey(a: PeerAddr): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function sameAddr(a: PeerAddr, b: PeerAddr): boolean {
  return a.port === b.port && a.address === b.address;
}
