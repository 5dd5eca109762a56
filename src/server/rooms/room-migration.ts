/**
 * Room migration (PROTOCOL 10, steps 1-5): one target for the whole room, a new room id, props,
 * members and owner carried; each member connected to the room's node handed off to that target
 * (the owner through its 1/7 answer, the others through a server-started migration push); members
 * counted in on claim, stragglers removed after the handoff TTL, the owner re-elected if it does
 * not arrive; roomMigrated reported to server-side listeners.
 */
import { Status } from '../../protocol';
import type { Clock } from '../clock';
import type { Session, SessionLink } from '../session';
import type { ClusterStore } from '../store';
import type { EmitFn, NodeInfo, NodeState, NodeStats, NodeType } from '../types';
import { json, roomError, RoomCmd, VER_ROOM } from './room-wire';
import { newRoomId, type Room, type Rooms } from './rooms';

/** A node as rooms see it (TcpNode and UdpNode through NodeBase). */
export interface RoomNode {
  readonly id: string;
  readonly type: NodeType;
  readonly state: NodeState;
  readonly stats: NodeStats;
  readonly emit: EmitFn;
  /** A session held by this node (connected or pending), by SID. */
  localSession(sid: string): Session | undefined;
  /** PROTOCOL 10.2: hand `session` to node `to` and push ver 0 cmd 2 (status 0xFF) with the 7.4 body. */
  pushHandOff(session: Session, to: string): Promise<boolean>;
  /** The owner's 1/7: hand `session` to node `to` and answer ver/cmd with the 7.4 body on `link`. */
  answerHandOff(session: Session, link: SessionLink, to: string, ver: number, cmd: number): Promise<boolean>;
}

interface Owner {
  session: Session;
  link: SessionLink;
}

export class RoomMigrations {
  /** Rooms whose node went offline, waiting for the owner's 1/7 (cancel functions). */
  private readonly grace = new Map<Room, () => void>();
  /** Members handed off and not claimed yet: their removal at the handoff TTL. */
  private readonly pending = new Map<string, () => void>();
  /** Migrations and offline walks under way: Cluster.stop() waits for them (idle()). */
  private readonly running = new Set<Promise<void>>();
  /** After stop() no timer is armed: a step still finishing must not outlive its cluster. */
  private stopped = false;

  constructor(
    private readonly rooms: Rooms,
    private readonly store: ClusterStore,
    private readonly nodes: ReadonlyMap<string, RoomNode>,
    private readonly clock: Clock,
    private readonly emit: EmitFn,
    private readonly opts: { ttlMs: number; graceMs: number },
  ) {}

  /** The owner's 1/7 (PROTOCOL 10.2); Bad not-owner for anyone else. */
  async ownerMigrate(node: RoomNode, session: Session, link: SessionLink): Promise<void> {
    const reply = (status: number, payload: Buffer): void =>
      link.sendPacket(session.encode(VER_ROOM, RoomCmd.Migrate, status, payload));
    const room = this.rooms.roomOf(session.uid);
    if (room === undefined) return reply(Status.Bad, roomError('not-in-room').payload);
    if (room.ownerId !== session.uid) return reply(Status.Bad, roomError('not-owner').payload);
    if (room.migrating) return reply(Status.Bad, roomError('migrating').payload);
    // Only a room whose node is going away moves (the Go server's rule); the owner's own node
    // going offline while the room is held elsewhere moves the owner alone (nodeOffline).
    if (this.nodes.get(room.nodeId)?.state !== 'offline') return reply(Status.Bad, roomError('not-offline').payload);
    void node;
    await this.migrate(room, { session, link });
  }

  /** A node went offline: its rooms move (after the owner's grace), its other room members too. */
  nodeOffline(nodeId: string): Promise<void> {
    return this.track(this.walkOffline(nodeId));
  }

  private async walkOffline(nodeId: string): Promise<void> {
    for (const room of [...this.rooms.rooms.values()]) {
      if (room.nodeId !== nodeId || room.migrating || this.grace.has(room)) continue;
      const owner = await this.store.sessionOfUser(room.ownerId);
      if (owner !== null && owner.nodeId === nodeId) {
        if (this.stopped) continue;
        const cancel = this.clock.setTimer(() => {
          this.grace.delete(room);
          if (this.rooms.rooms.get(room.id) === room && !room.migrating) void this.migrate(room, null);
        }, this.opts.graceMs);
        this.grace.set(room, cancel);
      } else if (!room.migrating) void this.migrate(room, null);
    }
    // Members of rooms held elsewhere wait for no room migration: the node moves them now.
    const from = this.nodes.get(nodeId);
    if (from === undefined) return;
    for (const [uid, roomId] of [...this.rooms.userRoom]) {
      const room = this.rooms.rooms.get(roomId);
      if (room === undefined || room.nodeId === nodeId) continue;
      const rec = await this.store.sessionOfUser(uid);
      const s = rec === null || rec.nodeId !== nodeId ? undefined : from.localSession(rec.sid);
      if (s === undefined || s.link === null) continue;
      const target = await this.pickTarget(from);
      if (target !== null) await from.pushHandOff(s, target.id);
    }
  }

  /** A session was bound at a node (connect or claim): a moving member is in the new room now. */
  sessionConnected(uid: string): void {
    const room = this.rooms.roomOf(uid);
    const m = room?.members.get(uid);
    if (m === undefined || m.present) return;
    m.present = true;
    this.pending.get(uid)?.();
    this.pending.delete(uid);
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.grace.values()) c();
    for (const c of this.pending.values()) c();
    this.grace.clear();
    this.pending.clear();
  }

  /**
   * Resolves once no migration or offline walk runs (a grace timer firing meanwhile starts one,
   * which is waited for too). In process every step is a store call in memory and a send, so the
   * wait is short; Cluster.stop() awaits it before it stops the nodes and cancels the timers.
   */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  private track(p: Promise<void>): Promise<void> {
    const entry = p.then(
      () => void this.running.delete(entry),
      () => void this.running.delete(entry),
    );
    this.running.add(entry);
    return p;
  }

  private migrate(room: Room, owner: Owner | null): Promise<void> {
    return this.track(this.move(room, owner));
  }

  private async move(room: Room, owner: Owner | null): Promise<void> {
    const from = this.nodes.get(room.nodeId);
    this.grace.get(room)?.();
    this.grace.delete(room);
    // Claimed at once: the owner's 1/7 and the node's own start must not both move the room.
    if (room.migrating) return;
    room.migrating = true;
    const target = from === undefined ? null : await this.pickTarget(from);
    if (from === undefined || target === null) {
      room.migrating = false;
      owner?.link.sendPacket(owner.session.encode(VER_ROOM, RoomCmd.Migrate, Status.Err, roomError('no-target').payload));
      return;
    }
    // Who moves with the room: members whose session this node holds.
    const moving: Session[] = [];
    for (const m of room.members.values()) {
      const rec = await this.store.sessionOfUser(m.uid);
      const s = rec === null || rec.nodeId !== from.id ? undefined : from.localSession(rec.sid);
      if (s !== undefined && s.link !== null) moving.push(s);
    }
    const oldRoomId = room.id;
    this.rooms.rooms.delete(oldRoomId);
    room.id = newRoomId();
    room.nodeId = target.id;
    this.rooms.rooms.set(room.id, room);
    for (const uid of room.members.keys()) this.rooms.userRoom.set(uid, room.id);
    for (const s of moving) {
      const m = room.members.get(s.uid);
      if (m !== undefined) m.present = false;
    }
    // Every member learns the new id first (on the moving members' links, before their handoff).
    const note = json({ oldRoomId, newRoomId: room.id, ownerId: room.ownerId });
    await Promise.all(
      [...room.members.keys()].map((uid) => this.store.routePush(uid, VER_ROOM, RoomCmd.Migrate, note).catch(() => false)),
    );
    let ownerAnswered = false;
    for (const s of moving) {
      const isOwnerLink = owner !== null && owner.session === s;
      const moved = isOwnerLink
        ? await from.answerHandOff(s, owner.link, target.id, VER_ROOM, RoomCmd.Migrate)
        : await from.pushHandOff(s, target.id);
      if (isOwnerLink) ownerAnswered = moved;
      const m = room.members.get(s.uid);
      if (m === undefined) continue;
      if (!moved) {
        m.present = true;  // still on the old node: a member where it is
        continue;
      }
      this.expectClaim(room, s.uid);
    }
    if (owner !== null && !ownerAnswered) {
      // The owner is connected elsewhere (or its handoff failed): it stays where it is.
      owner.link.sendPacket(owner.session.encode(VER_ROOM, RoomCmd.Migrate, Status.Ok, Buffer.alloc(0)));
    }
    room.migrating = false;
    this.emit('roomMigrated', { newRoomId: room.id, oldRoomId });
  }

  /** PROTOCOL 10.4: a member that has not claimed within the handoff TTL is removed. */
  private expectClaim(room: Room, uid: string): void {
    this.pending.get(uid)?.();
    this.pending.delete(uid);
    if (this.stopped) return;
    const cancel = this.clock.setTimer(() => {
      this.pending.delete(uid);
      const m = room.members.get(uid);
      if (m === undefined || m.present || this.rooms.rooms.get(room.id) !== room) return;
      this.rooms.removeMember(room, uid);
    }, this.opts.ttlMs);
    this.pending.set(uid, cancel);
  }

  private pickTarget(from: RoomNode): Promise<NodeInfo | null> {
    // The room registry is this process's: a room moves only to a node that can hold it here.
    return pickRoomTarget(this.store, from, (id) => this.nodes.has(id));
  }
}

/** An ONLINE node of `from`'s type other than it (and `allowed`), least loaded first. */
export async function pickRoomTarget(store: ClusterStore, from: RoomNode, allowed: (id: string) => boolean = () => true): Promise<NodeInfo | null> {
  let best: NodeInfo | null = null;
  for (const n of await store.listNodes(from.type)) {
    if (n.id === from.id || n.state !== 'online' || !allowed(n.id)) continue;
    if (best === null || n.users < best.users) best = n;
  }
  return best;
}
