/**
 * The cluster's rooms (PROTOCOL section 10): create, join, leave, broadcast, info, properties and
 * owner election. A room is held by one node (its creator's); members may be connected to any node
 * and get room pushes through the cluster's push routing. Moving a room is room-migration.ts.
 */
import { randomBytes } from 'node:crypto';
import { Status } from '../../protocol';
import type { Clock } from '../clock';
import type { Session, SessionLink } from '../session';
import type { ClusterStore } from '../store';
import type { EmitFn, JsonObject } from '../types';
import { RoomMigrations, type RoomNode } from './room-migration';
import {
  DEFAULT_ROOM_MIGRATION_GRACE_MS,
  encodeBroadcast,
  json,
  mergeProps,
  parseCreate,
  parseJoin,
  parseProps,
  roomError,
  RoomCmd,
  VER_ROOM,
} from './room-wire';

export interface Member {
  uid: string;
  /** Order of joining: the longest-standing present member is elected owner. */
  seq: number;
  /** False while a migrated member has not claimed its session at the target yet. */
  present: boolean;
}

export interface Room {
  id: string;
  /** The node that holds the room. */
  nodeId: string;
  maxMembers: number;
  ownerId: string;
  props: JsonObject;
  members: Map<string, Member>;
  migrating: boolean;
}

/** A room as tests and tools see it (startCluster().rooms()). */
export interface RoomInfo {
  roomId: string;
  nodeId: string;
  ownerId: string;
  maxMembers: number;
  members: string[];
  props: JsonObject;
}

export interface RoomsDeps {
  store: ClusterStore;
  nodes: ReadonlyMap<string, RoomNode>;
  clock: Clock;
  emit: EmitFn;
  handoffTtlMs: number;
  graceMs?: number;
}

/** What dispatch needs: the whole ver 1 command range of one request. */
export interface RoomService {
  handle(node: RoomNode, session: Session, link: SessionLink, cmd: number, body: Buffer): void | Promise<void>;
}

/** What the cluster (or a node process) tells its rooms, whatever the store holding them. */
export interface ClusterRooms extends RoomService {
  /** A session was bound at a node (connect or claim): a moving member is in its new room now. */
  sessionConnected(info: { uid: string; sid: string; nodeId: string }): void;
  /** A user's session ended: it leaves its room (a member still moving is the TTL's to remove). */
  sessionClosed(info: { uid: string; sid: string }): void;
  /** A handoff expired unclaimed (PROTOCOL 10.4 where the TTL is the store's). */
  handoffExpired(info: { uid: string; sid: string }): void;
  /** A node of this process went OFFLINE: its rooms move, its other room members too. */
  nodeOffline(nodeId: string): Promise<void>;
  /** Multi-process stores: a room moved to a node of this process (PROTOCOL 10.5). */
  roomMigrated?(newRoomId: string, oldRoomId: string): void;
  /** Resolves once no room migration of this process runs: Cluster.stop() awaits it first. */
  idle(): Promise<void>;
  stop(): void;
}

const EMPTY = Buffer.alloc(0);

export class Rooms implements ClusterRooms {
  readonly rooms = new Map<string, Room>();
  readonly userRoom = new Map<string, string>();
  readonly migrations: RoomMigrations;
  private seq = 0;

  constructor(private readonly deps: RoomsDeps) {
    this.migrations = new RoomMigrations(this, deps.store, deps.nodes, deps.clock, deps.emit, {
      ttlMs: deps.handoffTtlMs,
      graceMs: deps.graceMs ?? DEFAULT_ROOM_MIGRATION_GRACE_MS,
    });
  }

  list(): RoomInfo[] {
    return [...this.rooms.values()].map((r) => ({
      roomId: r.id,
      nodeId: r.nodeId,
      ownerId: r.ownerId,
      maxMembers: r.maxMembers,
      members: this.memberIds(r),
      props: JSON.parse(JSON.stringify(r.props)) as JsonObject,
    }));
  }

  roomOf(uid: string): Room | undefined {
    const id = this.userRoom.get(uid);
    return id === undefined ? undefined : this.rooms.get(id);
  }

  handle(node: RoomNode, session: Session, link: SessionLink, cmd: number, body: Buffer): void | Promise<void> {
    const reply = (a: { status: number; payload: Buffer }): void =>
      link.sendPacket(session.encode(VER_ROOM, cmd, a.status, a.payload));
    const ok = (v: JsonObject): void => reply({ status: Status.Ok, payload: json(v) });
    const uid = session.uid;
    switch (cmd) {
      case RoomCmd.Create: {
        const req = parseCreate(body);
        if (req === null) return reply(roomError('bad-request'));
        if (this.userRoom.has(uid)) return reply(roomError('already-in-room'));
        const room: Room = {
          id: newRoomId(),
          nodeId: node.id,
          maxMembers: req.maxMembers,
          ownerId: uid,
          props: req.props,
          members: new Map([[uid, { uid, seq: this.seq++, present: true }]]),
          migrating: false,
        };
        this.rooms.set(room.id, room);
        this.userRoom.set(uid, room.id);
        return ok({ roomId: room.id, ownerId: uid });
      }
      case RoomCmd.Join: {
        const roomId = parseJoin(body);
        if (roomId === null) return reply(roomError('bad-request'));
        if (this.userRoom.has(uid)) return reply(roomError('already-in-room'));
        const room = this.rooms.get(roomId);
        if (room === undefined) return reply(roomError('not-found'));
        if (room.migrating) return reply(roomError('migrating'));
        if (room.members.size >= room.maxMembers) return reply(roomError('room-full'));
        this.pushToMembers(room, RoomCmd.Join, json({ roomId: room.id, uid }), uid);
        room.members.set(uid, { uid, seq: this.seq++, present: true });
        this.userRoom.set(uid, room.id);
        return ok(this.describe(room));
      }
      case RoomCmd.Leave: {
        const room = this.roomOf(uid);
        if (room === undefined) return reply(roomError('not-in-room'));
        this.removeMember(room, uid);
        return ok({ roomId: room.id });
      }
      case RoomCmd.Broadcast: {
        // No answer (PROTOCOL 10): a broadcast outside a room is dropped and counted.
        const room = this.roomOf(uid);
        const out = room === undefined ? null : encodeBroadcast(uid, body);
        if (room === undefined || out === null) {
          node.stats.drops['unexpected']++;
          node.emit('drop', { nodeId: node.id, reason: 'unexpected', sid: session.sid });
          return;
        }
        this.pushToMembers(room, RoomCmd.Broadcast, out, uid);
        return;
      }
      case RoomCmd.Info: {
        const room = this.roomOf(uid);
        if (room === undefined) return reply(roomError('not-in-room'));
        return ok(this.describe(room));
      }
      case RoomCmd.SetProps: {
        const props = parseProps(body);
        if (props === null) return reply(roomError('bad-request'));
        const room = this.roomOf(uid);
        if (room === undefined) return reply(roomError('not-in-room'));
        const merged = mergeProps(room.props, props);
        if (merged === null) return reply(roomError('bad-request'));
        room.props = merged;
        this.pushToMembers(room, RoomCmd.SetProps, json({ roomId: room.id, props: room.props }), null);
        return ok({ props: room.props });
      }
      case RoomCmd.Migrate:
        return this.migrations.ownerMigrate(node, session, link);
      default:
        return reply({ status: 4, payload: EMPTY });
    }
  }

  sessionConnected(info: { uid: string }): void {
    this.migrations.sessionConnected(info.uid);
  }

  /** In process the room's own timers remove stragglers (RoomMigrations.expectClaim). */
  handoffExpired(): void {}

  nodeOffline(nodeId: string): Promise<void> {
    return this.migrations.nodeOffline(nodeId);
  }

  idle(): Promise<void> {
    return this.migrations.idle();
  }

  stop(): void {
    this.migrations.stop();
  }

  sessionClosed({ uid }: { uid: string }): void {
    const room = this.roomOf(uid);
    if (room !== undefined && room.members.get(uid)?.present === true) this.removeMember(room, uid);
  }

  describe(room: Room): JsonObject {
    return { roomId: room.id, ownerId: room.ownerId, members: this.memberIds(room), props: room.props };
  }

  /** Removes a member, tells the others (1/3), elects an owner if needed (1/8), drops an empty room. */
  removeMember(room: Room, uid: string): void {
    if (!room.members.delete(uid)) return;
    if (this.userRoom.get(uid) === room.id) this.userRoom.delete(uid);
    if (room.members.size === 0) {
      this.rooms.delete(room.id);
      return;
    }
    this.pushToMembers(room, RoomCmd.Leave, json({ roomId: room.id, uid }), null);
    if (room.ownerId === uid) this.electOwner(room);
  }

  /** The longest-standing present member becomes owner (1/8 to every member). */
  electOwner(room: Room): void {
    let best: Member | null = null;
    for (const m of room.members.values()) if (m.present && (best === null || m.seq < best.seq)) best = m;
    if (best === null) for (const m of room.members.values()) if (best === null || m.seq < best.seq) best = m;
    if (best === null) return;
    room.ownerId = best.uid;
    this.pushToMembers(room, RoomCmd.OwnerChanged, json({ roomId: room.id, ownerId: best.uid }), null);
  }

  /** Through the cluster's routing: members on any node, held for members still moving. */
  pushToMembers(room: Room, cmd: number, payload: Buffer, except: string | null): void {
    for (const m of room.members.values()) {
      if (m.uid === except) continue;
      void this.deps.store.routePush(m.uid, VER_ROOM, cmd, payload).catch((error: unknown) => {
        this.deps.emit('store-error', { op: 'room-push', error });
      });
    }
  }

  newSeq(): number {
    return this.seq++;
  }

  private memberIds(room: Room): string[] {
    return [...room.members.values()].sort((a, b) => a.seq - b.seq).map((m) => m.uid);
  }
}

export function newRoomId(): string {
  return randomBytes(8).toString('hex');
}
