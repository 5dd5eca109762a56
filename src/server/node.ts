/**
 * The shape every realtime node has, whatever its transport. TcpNode implements it now; the UDP
 * node (src/server/udp-node.ts, another helper) implements the same so the cluster treats both alike.
 */
import type { NodeState } from '../protocol';
import type { Session } from './session';
import type { SessionRecord } from './store';
import type { NodeStats, NodeType } from './types';

export interface RealtimeNode {
  readonly id: string;
  readonly type: NodeType;
  readonly host: string;
  /** Listening port (0 until started). */
  readonly port: number;
  readonly state: NodeState;
  /** Sessions registered on this node, connected or not yet. */
  readonly users: number;
  readonly stats: NodeStats;
  start(): Promise<void>;
  /** Registers a session handed out by the endpoint API (before the client is answered). */
  adoptSession(rec: SessionRecord): Session;
  /** PROTOCOL 7.1 on 'offline': leaves rotation (via the store) and pushes the offline notice. */
  setState(state: NodeState): Promise<void>;
  deliverPush(sid: string, ver: number, cmd: number, payload: Buffer): void;
  /** Closes everything; resolves when every socket is closed. */
  stop(): Promise<void>;
}
