/**
 * One row of the echo benches (tcp-throughput, tcp-syscalls, tcp-instructions), by kind: the
 * C floor, a Node floor mode, or a client run by lib/tcp-echo-child.ts. `wrap`: a command to
 * run the measured process under (strace, valgrind). UDP: the UDP floors and the UDP clients.
 */
import { runFloor, runUdpFloor } from './c-floor';
import { runEchoChild, type EchoTransport } from './echo-run';
import { NODE_FLOORS, runNodeFloor } from './node-floor';
import type { EchoSample } from './tcp-echo-child';

export interface Floors { floor: string; nodeFloor: string; udpFloor?: string; udpNodeFloor?: string; leanFloor?: string }

export function runKind(kind: string, floors: Floors, entryUrl: string, depth: number, messages: number, clients: number,
  uid: string, baseline: string | undefined, wrap: string[] = [], transport: EchoTransport = 'TCP', warmup?: number): Promise<EchoSample> {
  // warmup: echoes before the measured ones, every kind alike (undefined: each one's old default,
  // min(2000, messages) in one call).
  const mode = NODE_FLOORS.find((m) => m === kind);
  if (transport === 'UDP') {
    if (mode !== undefined) {
      if (floors.udpNodeFloor === undefined) throw new Error('the UDP Node floor is not built');
      return runNodeFloor(floors.udpNodeFloor, entryUrl, depth, messages, uid, wrap, mode, warmup, 'UDP');
    }
    if (kind !== 'c-floor') return runEchoChild(kind, entryUrl, depth, messages, clients, uid, baseline, 'UDP', wrap, warmup);
    if (floors.udpFloor === undefined) throw new Error('the UDP floor is not built');
    return runUdpFloor(floors.udpFloor, entryUrl, depth, messages, uid, wrap, warmup);
  }
  if (kind === 'c-floor') return runFloor(floors.floor, entryUrl, depth, messages, uid, wrap, kind, warmup);
  if (kind === 'c-floor-lean') {
    if (floors.leanFloor === undefined) throw new Error('the lean TCP floor is not built');
    return runFloor(floors.leanFloor, entryUrl, depth, messages, uid, wrap, kind, warmup);
  }
  if (mode !== undefined) return runNodeFloor(floors.nodeFloor, entryUrl, depth, messages, uid, wrap, mode, warmup);
  return runEchoChild(kind, entryUrl, depth, messages, clients, uid, baseline, 'TCP', wrap, warmup);
}
