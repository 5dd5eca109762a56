/**
 * PROTOCOL 10.2 across processes: after a server-started migration push, requests the client sent
 * before it saw the push still reach the old node. The old node appends each to the target's
 * stream (in order), then a forward-end once the old link is done (TCP: the client's end read;
 * UDP: the client's FIN). The target serves them first after the claim, and holds what comes on
 * the new link until the forward-end, so nothing is lost or reordered.
 */
import type { Clock } from './clock';
import type { ClusterRooms } from './rooms/rooms';
import type { ClusterStore, NodeMessage } from './store';
import type { EmitFn } from './types';

/** The target waits this long for the old node's forward-end (then serves what it has). */
export const FORWARD_END_WAIT_MS = 5000;

/** At the target: open once the old node said it forwards nothing more (or the wait ran out). */
export class ForwardGate {
  private done = false;
  private waiters: (() => void)[] = [];

  get opened(): boolean {
    return this.done;
  }

  open(): void {
    if (this.done) return;
    this.done = true;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when open; opens by itself after `ms` (the old node may be gone). */
  wait(clock: Clock, ms: number, onTimeout: () => void): Promise<void> {
    if (this.done) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = clock.setTimer(() => {
        if (!this.done) onTimeout();
        this.open();
      }, ms);
      this.waiters.push(() => {
        cancel();
        resolve();
      });
    });
  }
}

/** The old node's side: what a push-handed session's late requests and link end become. */
export interface Forwarder {
  forward(ver: number, cmd: number, body: Buffer): void;
  end(): void;
}

/** Through the store to a target in another process; calls reach its stream in call order. */
export function remoteForwarder(store: ClusterStore, to: string, sid: string, emit: EmitFn): Forwarder | null {
  const send = store.sendToNode?.bind(store);
  if (send === undefined) return null;
  const fail = (error: unknown): void => emit('store-error', { op: 'forward', error });
  return {
    forward: (ver, cmd, body) => void send(to, { kind: 'forward', sid, ver, cmd, body: Buffer.from(body) }).catch(fail),
    end: () => void send(to, { kind: 'forward-end', sid }).catch(fail),
  };
}

/** What a node does with the messages of its stream (RedisStore.setNodeMessageHandler). */
export function nodeMessageHandler(
  node: { acceptForwarded(sid: string, ver: number, cmd: number, body: Buffer): void; acceptForwardEnd(sid: string): void; handoffClaimed(sid: string): void },
  rooms: ClusterRooms | undefined,
): (msg: NodeMessage) => void {
  return (msg) => {
    if (msg.kind === 'forward') node.acceptForwarded(msg.sid, msg.ver, msg.cmd, msg.body);
    else if (msg.kind === 'forward-end') node.acceptForwardEnd(msg.sid);
    else if (msg.kind === 'claimed') node.handoffClaimed(msg.sid);
    else rooms?.roomMigrated?.(msg.newRoomId, msg.oldRoomId);
  };
}
