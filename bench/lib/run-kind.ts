/**
 * One row of the TCP echo benches (tcp-throughput, tcp-syscalls, tcp-instructions), by kind: the
 * C floor, a Node floor mode, or a client run by lib/tcp-echo-child.ts. `wrap`: a command to run
 * the measured process under (strace, valgrind).
 */
import { runFloor } from './c-floor';
import { runEchoChild } from './echo-run';
import { NODE_FLOORS, runNodeFloor } from './node-floor';
import type { EchoSample } from './tcp-echo-child';

export interface Floors { floor: string; nodeFloor: string }

export function runKind(kind: string, floors: Floors, entryUrl: string, depth: number, messages: number, clients: number,
  uid: string, baseline: string | undefined, wrap: string[] = []): Promise<EchoSample> {
  if (kind === 'c-floor') return runFloor(floors.floor, entryUrl, depth, messages, uid, wrap);
  const mode = NODE_FLOORS.find((m) => m === kind);
  if (mode !== undefined) return runNodeFloor(floors.nodeFloor, entryUrl, depth, messages, uid, wrap, mode);
  return runEchoChild(kind, entryUrl, depth, messages, clients, uid, baseline, 'TCP', wrap);
}
