/**
 * A node's ports handed out in turn (issue 12). A node may listen on several ports (UDP: several
 * sockets; TCP: extra listeners): Node 20 reads at most 32 datagrams per UDP socket and libuv
 * accepts one connection per listener per event-loop turn, so a storm of clients sent to one
 * port waits many loop turns, while spread over k ports it is read k times as fast.
 */
import type { NodeInfo } from './types';

/** Node ids remembered before the rotation starts over (a long-lived entry sees nodes come and go). */
const MAX_NODES = 1024;

export class PortRotation {
  private readonly next = new Map<string, number>();

  /** The node's main port and its extra ports, one after the other. */
  pick(n: Pick<NodeInfo, 'id' | 'port' | 'ports'>): number {
    const extra = n.ports ?? [];
    if (extra.length === 0) return n.port;
    if (this.next.size >= MAX_NODES && !this.next.has(n.id)) this.next.clear();
    const i = this.next.get(n.id) ?? 0;
    this.next.set(n.id, (i + 1) % (extra.length + 1));
    return i === 0 ? n.port : (extra[i - 1] as number);
  }
}
