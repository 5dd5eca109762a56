/**
 * Handles one authenticated request body of a bound session: built-in commands (ver 0) and the
 * command router. Transport-agnostic so the UDP node can share it.
 */
import {
  BuiltinCmd,
  decodeHeartbeat,
  encodeHeartbeatAnswer,
  MIGRATE_NO_TARGET_CODE,
  NodeState,
  Status,
  UNKNOWN_COMMAND_STATUS,
  VER_BUILTIN,
} from '../protocol';
import { CommandRouter, toAnswer } from './commands';
import type { RoomService } from './rooms/rooms';
import { VER_ROOM } from './rooms/room-wire';
import type { RoomNode } from './rooms/room-migration';
import type { Session, SessionLink } from './session';
import type { CommandContext, EmitFn, HandlerResult, NodeStats } from './types';

/** What the dispatcher needs from a node. */
export interface NodeControl {
  readonly id: string;
  readonly state: NodeState;
  readonly exposeDebugCommands: boolean;
  readonly router: CommandRouter;
  readonly stats: NodeStats;
  readonly emit: EmitFn;
  setState(state: NodeState): Promise<void>;
  /** Debug 903: end every session of this node now. */
  terminate(): void;
  /**
   * Migration request (ver 0 cmd 2) from a bound session, after every earlier request of it.
   * Answers on `link` (address || ticket, or status 5 / 1003) and closes it after a handoff.
   * Nodes without it answer "no target".
   */
  migrate?(session: Session, link: SessionLink): void | Promise<void>;
  /** PROTOCOL 10: the room commands (ver 1); without them ver 1 goes to the router. */
  readonly rooms?: RoomService | undefined;
}

const EMPTY = Buffer.alloc(0);

function noTarget(): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(MIGRATE_NO_TARGET_CODE, 0);
  return b;
}

/** Answers go to the link the request came from (not session.link, which may have moved on). */
export function dispatchRequest(
  node: NodeControl,
  session: Session,
  link: SessionLink,
  ver: number,
  cmd: number,
  body: Buffer,
): void | Promise<void> {
  const reply = (status: number, payload: Uint8Array): void => link.sendPacket(session.encode(ver, cmd, status, payload));
  if (session.handedOffByPush) {
    // PROTOCOL 10.2: sent before the client saw the migration push; served at its new node.
    if (ver !== VER_BUILTIN && session.forward !== null) return session.forward(ver, cmd, body);
    // A migrate request the push answered already; heartbeats are still answered here.
    if (ver === VER_BUILTIN && cmd !== BuiltinCmd.KeepAlive) {
      node.stats.drops['unexpected']++;
      node.emit('drop', { nodeId: node.id, reason: 'unexpected', sid: session.sid });
      return;
    }
  }

  if (ver === VER_BUILTIN) {
    switch (cmd) {
      case BuiltinCmd.KeepAlive: {
        const ts = decodeHeartbeat(body);
        if (ts === null) {
          node.stats.drops['bad-body']++;
          node.emit('drop', { nodeId: node.id, reason: 'bad-body', sid: session.sid });
          reply(Status.Bad, EMPTY);
        } else reply(Status.Ok, encodeHeartbeatAnswer(node.state, ts));
        return;
      }
      case BuiltinCmd.Reconn:
        if (node.migrate !== undefined) return node.migrate(session, link);
        reply(Status.Err, noTarget());
        return;
      case BuiltinCmd.Ping:
        reply(Status.Ok, body);
        return;
      case BuiltinCmd.ClientKey:
        session.clientKey = body.toString('utf8');
        return;
      case BuiltinCmd.DebugOnline:
      case BuiltinCmd.DebugTaken:
      case BuiltinCmd.DebugOffline:
      case BuiltinCmd.DebugTerminate:
        if (!node.exposeDebugCommands) break;
        reply(Status.Ok, EMPTY);
        if (cmd === BuiltinCmd.DebugOnline) void node.setState('online');
        else if (cmd === BuiltinCmd.DebugTaken) void node.setState('taken');
        else if (cmd === BuiltinCmd.DebugOffline) void node.setState('offline');
        else node.terminate();
        return;
      default:
        break;
    }
  }

  if (ver === VER_ROOM && node.rooms !== undefined && isRoomNode(node)) return node.rooms.handle(node, session, link, cmd, body);

  const handler = node.router.get(ver, cmd);
  if (handler === undefined) {
    reply(UNKNOWN_COMMAND_STATUS, EMPTY);
    return;
  }
  const ctx: CommandContext = {
    uid: session.uid,
    sid: session.sid,
    nodeId: node.id,
    ver,
    cmd,
    payload: body,
    data: session.data,
    push: (pv, pc, payload) => {
      session.push(pv, pc, payload);
    },
  };
  const fail = (error: unknown): void => {
    node.stats.handlerErrors++;
    node.emit('handler-error', { nodeId: node.id, uid: session.uid, ver, cmd, error });
    reply(Status.Err, EMPTY);
  };
  let r: HandlerResult | Promise<HandlerResult>;
  try {
    r = handler(ctx);
  } catch (err) {
    fail(err);
    return;
  }
  if (r instanceof Promise) {
    return r.then((res) => {
      const a = toAnswer(res);
      reply(a.status, a.payload);
    }, fail);
  }
  const a = toAnswer(r);
  reply(a.status, a.payload);
}

function isRoomNode(node: NodeControl): node is NodeControl & RoomNode {
  return typeof (node as Partial<RoomNode>).pushHandOff === 'function';
}
