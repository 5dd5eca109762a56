/**
 * Picks migration targets for a node going OFFLINE (issue 12). When hundreds of sessions ask at
 * once, one node listing serves every request that arrived while the previous listing was in
 * flight (never an older one: a listing only serves requests made before it started), and each
 * pick counts against its target in that listing, so one storm spreads over the ONLINE targets
 * least loaded first instead of piling onto whichever looked emptiest. Requests read in one event
 * loop turn share one listing, and those made while it runs share the next.
 */
import type { ClusterStore } from './store';
import type { NodeInfo, NodeType } from './types';

interface Waiter {
  fromId: string;
  resolve: (n: NodeInfo | null) => void;
  reject: (e: unknown) => void;
}

export class TargetPicker {
  /** Per node type: requests waiting for the next listing, and whether one is in flight. */
  private readonly queues = new Map<NodeType, { waiting: Waiter[]; busy: boolean }>();
  /** Store listings made (for tests and the benchmark's breakdown). */
  listings = 0;

  constructor(private readonly store: Pick<ClusterStore, 'listNodes'>) {}

  /** The least loaded ONLINE node of `type` other than `fromId`, or null. */
  pick(type: NodeType, fromId: string): Promise<NodeInfo | null> {
    let q = this.queues.get(type);
    if (q === undefined) this.queues.set(type, (q = { waiting: [], busy: false }));
    const queue = q;
    const p = new Promise<NodeInfo | null>((resolve, reject) => queue.waiting.push({ fromId, resolve, reject }));
    if (!queue.busy) {
      // Started after this loop turn's I/O: every migrate request read in it shares the listing.
      queue.busy = true;
      setImmediate(() => void this.drain(type, queue));
    }
    return p;
  }

  private async drain(type: NodeType, q: { waiting: Waiter[]; busy: boolean }): Promise<void> {
    while (q.waiting.length > 0) {
      const batch = q.waiting.splice(0);
      this.listings++;
      let nodes: NodeInfo[];
      try {
        nodes = (await this.store.listNodes(type)).filter((n) => n.state === 'online').map((n) => ({ ...n }));
      } catch (err) {
        for (const w of batch) w.reject(err);
        continue;
      }
      for (const w of batch) {
        let best: NodeInfo | null = null;
        for (const n of nodes) if (n.id !== w.fromId && (best === null || n.users < best.users)) best = n;
        if (best !== null) best.users++;
        w.resolve(best);
      }
    }
    q.busy = false;
  }
}
