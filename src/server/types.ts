/** Types shared by the reference cluster's modules (and by its users' command handlers). */
import type { DropReason, NodeState } from '../protocol';
import type { MigrationPhaseEvent } from './migration-phases';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type NodeType = 'TCP' | 'UDP';
export type { NodeState };

/** What a user command handler sees. `data` is the user's session data: JSON values only, mutable. */
export interface CommandContext {
  uid: string;
  /** Session id, 32 hex characters. */
  sid: string;
  nodeId: string;
  ver: number;
  cmd: number;
  /** The decrypted request body. Valid for the handler's lifetime; copy to keep it. */
  payload: Buffer;
  data: JsonObject;
  /** Pushes to this user on its current connection, in order with the answers. */
  push(ver: number, cmd: number, payload: Uint8Array): void;
}

/** A handler's answer: status defaults to 1 (OK), payload to empty. */
export type HandlerResult = { status?: number; payload?: Uint8Array } | Uint8Array | void;
export type CommandHandler = (ctx: CommandContext) => HandlerResult | Promise<HandlerResult>;

export interface NodeInfo {
  id: string;
  type: NodeType;
  host: string;
  port: number;
  /**
   * More ports of the same node (UDP: its other sockets; TCP: its extra listeners), handed out in
   * turn with `port` to new connections and migrations so a storm is read from several sockets.
   */
  ports?: number[];
  state: NodeState;
  users: number;
}

export interface NodeStats {
  connections: number;
  sessions: number;
  requests: number;
  responses: number;
  pushes: number;
  bytesIn: number;
  bytesOut: number;
  refused: number;
  protocolErrors: number;
  handlerErrors: number;
  drops: Record<DropReason, number>;
}

/** Observability events emitted by the cluster (payload shapes). */
export interface ClusterEvents {
  drop: { nodeId: string; reason: DropReason; sid: string | null };
  refused: { nodeId: string; reason: string };
  'protocol-error': { nodeId: string; reason: DropReason };
  'session-connect': { nodeId: string; uid: string; sid: string };
  'session-close': { nodeId: string; uid: string; sid: string; /** Why it ended (UDP: the RUDP end reason, e.g. 'timeout'). */ reason?: string };
  'handler-error': { nodeId: string; uid: string; ver: number; cmd: number; error: unknown };
  'node-state': { nodeId: string; state: NodeState };
  /** PROTOCOL 7.3: a session was handed from one node to another (answer not yet sent). */
  handoff: { uid: string; sid: string; from: string; to: string };
  /** PROTOCOL 10.5: a room moved to another node under a new id (the Go server's SetOnMigrated). */
  roomMigrated: { newRoomId: string; oldRoomId: string };
  /** Issue 12: one step of a live migration reached (see migration-phases.ts for the order). */
  'migration-phase': MigrationPhaseEvent;
  /** A store operation failed (e.g. Redis unreachable): what was lost is reported, not hidden. */
  'store-error': { op: string; error: unknown };
  /** PROTOCOL 7.8: a handoff expired unclaimed; what it held (user data, pushes held at the target). */
  'handoff-expired': {
    nodeId: string;
    from: string;
    uid: string;
    sid: string;
    data: JsonObject;
    held: { ver: number; cmd: number; payload: Buffer }[];
  };
}

/** Typed emit, so modules cannot send a malformed event. */
export type EmitFn = <K extends keyof ClusterEvents>(event: K, info: ClusterEvents[K]) => void;
