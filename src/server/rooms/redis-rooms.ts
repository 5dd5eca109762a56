/**
 * Rooms on the Redis store (PROTOCOL 10) for clusters of several node processes: the room records
 * live in Redis (room-scripts.ts), so a member connected to any node of any process can join,
 * leave, broadcast, read and set props; each change and its pushes are one script. Moving a room
 * (its node went OFFLINE) runs in the process of that node: one target anywhere in the cluster,
 * the node's members handed off there, stragglers removed when their handoff expires unclaimed
 * (reported in the target's process), roomMigrated reported in the target's process.
 */
import { Status } from '../../protocol';
import type { Clock } from '../clock';
import { Script, type RedisStore } from '../redis-store';
import type { Session, SessionLink } from '../session';
import type { EmitFn, JsonObject, NodeInfo } from '../types';
import { pickRoomTarget, type RoomNode } from './room-migration';
import * as L from './room-scripts';
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
  type RoomErrorCode,
} from './room-wire';
import { newRoomId, type ClusterRooms, type RoomInfo } from './rooms';

const S = {
  create: new Script(L.ROOM_CREATE),
  join: new Script(L.ROOM_JOIN),
  leave: new Script(L.ROOM_LEAVE),
  broadcast: new Script(L.ROOM_BROADCAST),
  get: new Script(L.ROOM_GET),
  setProps: new Script(L.ROOM_SET_PROPS),
  session: new Script(L.ROOM_SESSION),
  beginMove: new Script(L.ROOM_BEGIN_MOVE),
  endMove: new Script(L.ROOM_END_MOVE),
  move: new Script(L.ROOM_MOVE),
  nodeOffline: new Script(L.ROOM_NODE_OFFLINE),
  list: new Script(L.ROOM_LIST),
};

/** Concurrent prop changes retry their compare-and-set this often before giving up (status 5). */
const PROPS_RETRIES = 8;
const ROOM_ID = /^[0-9a-f]{16}$/;
const EMPTY = Buffer.alloc(0);

export interface RedisRoomsDeps {
  store: RedisStore;
  /** The nodes of this process. */
  nodes: ReadonlyMap<string, RoomNode>;
  clock: Clock;
  emit: EmitFn;
  graceMs?: number;
}

interface RoomState {
  describe: JsonObject;
  id: string;
  node: string;
  owner: string;
  migrating: boolean;
  ver: string;
  props: JsonObject;
}

interface Owner {
  session: Session;
  link: SessionLink;
}

export class RedisRooms implements ClusterRooms {
  /** Rooms of this process's OFFLINE nodes waiting for the owner's 1/7 (cancel functions). */
  private readonly grace = new Map<string, () => void>();
  private readonly graceMs: number;
  /** Room migrations and offline walks this process runs: a migration's last steps come after its last member left. */
  private readonly moving = new Set<Promise<void>>();
  /** After stop() no grace timer is armed (a walk still finishing must not outlive its cluster). */
  private stopped = false;

  constructor(private readonly deps: RedisRoomsDeps) {
    this.graceMs = deps.graceMs ?? DEFAULT_ROOM_MIGRATION_GRACE_MS;
  }

  /** Every room of the cluster (all processes). */
  async list(): Promise<RoomInfo[]> {
    const r = (await this.deps.store.script(S.list)) as string[];
    const out: RoomInfo[] = [];
    for (let i = 0; i + 2 < r.length; i += 3) {
      const d = JSON.parse(r[i]) as { roomId: string; ownerId: string; members: string[]; props: JsonObject };
      out.push({ roomId: d.roomId, nodeId: r[i + 1], ownerId: d.ownerId, maxMembers: Number(r[i + 2]), members: d.members, props: d.props });
    }
    return out;
  }

  async handle(node: RoomNode, session: Session, link: SessionLink, cmd: number, body: Buffer): Promise<void> {
    const reply = (a: { status: number; payload: Buffer }): void =>
      link.sendPacket(session.encode(VER_ROOM, cmd, a.status, a.payload));
    try {
      const a = await this.serve(node, session, link, cmd, body);
      if (a !== null) reply(a);
    } catch (error) {
      this.deps.emit('store-error', { op: `room-${cmd}`, error });
      if (cmd !== RoomCmd.Broadcast) reply({ status: Status.Err, payload: EMPTY });
    }
  }

  sessionConnected(info: { uid: string; sid: string; nodeId: string }): void {
    this.session(info, info.nodeId, 'present');
  }

  sessionClosed(info: { uid: string; sid: string }): void {
    this.session(info, '', 'closed');
  }

  handoffExpired(info: { uid: string; sid: string }): void {
    this.session(info, '', 'expired');
  }

  /** PROTOCOL 10.5 in the target's process (a message through the target node's stream). */
  roomMigrated(newRoomId: string, oldRoomId: string): void {
    this.deps.emit('roomMigrated', { newRoomId, oldRoomId });
  }

  nodeOffline(nodeId: string): Promise<void> {
    return this.track(this.walkOffline(nodeId));
  }

  private async walkOffline(nodeId: string): Promise<void> {
    const from = this.deps.nodes.get(nodeId);
    if (from === undefined) return;
    const r = (await this.deps.store.script(S.nodeOffline, nodeId)) as string[];
    const bar = r.indexOf('|');
    for (let i = 0; i + 1 < bar; i += 2) {
      const [id, owner] = [r[i], r[i + 1]];
      if (this.grace.has(id)) continue;
      const rec = await this.deps.store.sessionOfUser(owner);
      if (rec === null || rec.nodeId !== nodeId) {
        void this.migrate(id, null);
        continue;
      }
      // The owner is here: it has the grace period to send 1/7 (PROTOCOL 10.2).
      if (this.stopped) continue;
      const cancel = this.deps.clock.setTimer(() => {
        this.grace.delete(id);
        void this.migrate(id, null);
      }, this.graceMs);
      this.grace.set(id, cancel);
    }
    // Members of rooms held elsewhere wait for no room migration: the node moves them now.
    const sids = r.slice(bar + 1);
    if (sids.length === 0) return;
    const target = await this.pickTarget(from);
    if (target === null) return;
    for (const sid of sids) {
      const s = from.localSession(sid);
      if (s !== undefined && s.link !== null) await from.pushHandOff(s, target.id);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.grace.values()) c();
    this.grace.clear();
  }

  /**
   * Resolves once no room migration of this process runs. A node's process awaits it before it
   * closes its store: the last member leaves the node before the move ends in Redis and the target
   * hears of it (PROTOCOL 10.5), and a store closed in between leaves the room marked moving and
   * the target never reports roomMigrated.
   */
  async idle(): Promise<void> {
    while (this.moving.size > 0) await Promise.allSettled([...this.moving]);
  }

  private session(info: { uid: string; sid: string }, nodeId: string, what: 'present' | 'closed' | 'expired'): void {
    void this.deps.store.script(S.session, info.uid, info.sid, nodeId, what).catch((error: unknown) => {
      this.deps.emit('store-error', { op: `room-session-${what}`, error });
    });
  }

  /** One request; null = no answer (broadcast). */
  private async serve(node: RoomNode, session: Session, link: SessionLink, cmd: number, body: Buffer): Promise<{ status: number; payload: Buffer } | null> {
    const { store } = this.deps;
    const { uid, sid } = session;
    const ok = (v: JsonObject): { status: number; payload: Buffer } => ({ status: Status.Ok, payload: json(v) });
    const bad = (r: string[]): { status: number; payload: Buffer } => roomError(r[0] as RoomErrorCode);
    switch (cmd) {
      case RoomCmd.Create: {
        const req = parseCreate(body);
        if (req === null) return roomError('bad-request');
        const roomId = newRoomId();
        const r = (await store.script(S.create, uid, sid, roomId, node.id, String(req.maxMembers), JSON.stringify(req.props))) as string[];
        return r[0] === 'ok' ? ok({ roomId, ownerId: uid }) : bad(r);
      }
      case RoomCmd.Join: {
        const roomId = parseJoin(body);
        if (roomId === null) return roomError('bad-request');
        // Only ids this cluster makes (newRoomId) can name a room: nothing else reaches Redis.
        if (!ROOM_ID.test(roomId)) return roomError('not-found');
        const r = (await store.script(S.join, uid, sid, roomId, node.id)) as string[];
        return r[0] === 'ok' ? { status: Status.Ok, payload: Buffer.from(r[1], 'utf8') } : bad(r);
      }
      case RoomCmd.Leave: {
        const r = (await store.script(S.leave, uid, sid)) as string[];
        return r[0] === 'ok' ? ok({ roomId: r[1] }) : bad(r);
      }
      case RoomCmd.Broadcast: {
        // No answer (PROTOCOL 10); not awaited: the next request's script runs after this one anyway.
        const out = encodeBroadcast(uid, body);
        const sent = out === null ? Promise.resolve(0) : store.script(S.broadcast, uid, sid, out);
        void sent.then(
          (n) => {
            if (n === 1) return;
            node.stats.drops['unexpected']++;
            node.emit('drop', { nodeId: node.id, reason: 'unexpected', sid });
          },
          (error: unknown) => this.deps.emit('store-error', { op: 'room-broadcast', error }),
        );
        return null;
      }
      case RoomCmd.Info: {
        const st = await this.state(session);
        return st === null ? roomError('not-in-room') : ok(st.describe);
      }
      case RoomCmd.SetProps: {
        const change = parseProps(body);
        if (change === null) return roomError('bad-request');
        for (let i = 0; i < PROPS_RETRIES; i++) {
          const st = await this.state(session);
          if (st === null) return roomError('not-in-room');
          const merged = mergeProps(st.props, change);
          if (merged === null) return roomError('bad-request');
          const r = (await store.script(S.setProps, uid, sid, st.ver, JSON.stringify(merged))) as string[];
          if (r[0] === 'ok') return ok({ props: merged });
          if (r[0] !== 'conflict') return bad(r);
        }
        return { status: Status.Err, payload: EMPTY };
      }
      case RoomCmd.Migrate:
        await this.ownerMigrate(session, link);
        return null;
      default:
        return { status: Status.Bad, payload: EMPTY };
    }
  }

  private async state(session: Session): Promise<RoomState | null> {
    const r = (await this.deps.store.script(S.get, session.uid, session.sid)) as string[];
    if (r[0] !== 'ok') return null;
    return {
      describe: JSON.parse(r[1]) as JsonObject,
      id: r[2],
      node: r[3],
      owner: r[4],
      migrating: r[5] === '1',
      ver: r[6],
      props: JSON.parse(r[7]) as JsonObject,
    };
  }

  /** The owner's 1/7 (PROTOCOL 10.2). */
  private async ownerMigrate(session: Session, link: SessionLink): Promise<void> {
    const reply = (a: { status: number; payload: Buffer }): void =>
      link.sendPacket(session.encode(VER_ROOM, RoomCmd.Migrate, a.status, a.payload));
    const st = await this.state(session);
    if (st === null) return reply(roomError('not-in-room'));
    if (st.owner !== session.uid) return reply(roomError('not-owner'));
    if (st.migrating) return reply(roomError('migrating'));
    const holder = this.deps.nodes.get(st.node);
    if (holder === undefined) {
      // Held by a node of another process: when that node is OFFLINE it moves the room itself.
      const n = (await this.deps.store.listNodes()).find((x) => x.id === st.node);
      return reply(roomError(n?.state === 'offline' ? 'migrating' : 'not-offline'));
    }
    if (holder.state !== 'offline') return reply(roomError('not-offline'));
    await this.migrate(st.id, { session, link });
  }

  private migrate(roomId: string, owner: Owner | null): Promise<void> {
    return this.track(this.runMigration(roomId, owner));
  }

  private track(p: Promise<void>): Promise<void> {
    const run = p.finally(() => this.moving.delete(run));
    this.moving.add(run);
    return run;
  }

  private async runMigration(roomId: string, owner: Owner | null): Promise<void> {
    const { store } = this.deps;
    this.grace.get(roomId)?.();
    this.grace.delete(roomId);
    const answer = (a: { status: number; payload: Buffer }): void =>
      owner?.link.sendPacket(owner.session.encode(VER_ROOM, RoomCmd.Migrate, a.status, a.payload));
    let began: string[];
    try {
      // Claimed in Redis: the owner's 1/7 and the node's own start must not both move the room.
      began = (await store.script(S.beginMove, roomId)) as string[];
    } catch (error) {
      this.deps.emit('store-error', { op: 'room-migrate', error });
      return answer({ status: Status.Err, payload: EMPTY });
    }
    if (began[0] !== 'ok') return answer(roomError(began[0] as RoomErrorCode));
    const from = this.deps.nodes.get(began[2]);
    try {
      const target = from === undefined ? null : await this.pickTarget(from);
      if (from === undefined || target === null) {
        await store.script(S.endMove, roomId);
        return answer({ status: Status.Err, payload: roomError('no-target').payload });
      }
      // Who moves with the room: members whose session this node holds.
      const moving: Session[] = [];
      for (const uid of began.slice(3)) {
        const rec = await store.sessionOfUser(uid);
        const s = rec === null || rec.nodeId !== from.id ? undefined : from.localSession(rec.sid);
        if (s !== undefined && s.link !== null) moving.push(s);
      }
      const newId = newRoomId();
      // Every member learns the new id (1/7) before any handoff: on the moving members' old links.
      const moved = (await store.script(S.move, roomId, newId, target.id, ...moving.map((s) => s.uid))) as string[];
      if (moved[0] !== 'ok') return answer(roomError(moved[0] as RoomErrorCode));
      let ownerAnswered = false;
      for (const s of moving) {
        const isOwnerLink = owner !== null && owner.session === s;
        const ok = isOwnerLink
          ? await from.answerHandOff(s, owner.link, target.id, VER_ROOM, RoomCmd.Migrate)
          : await from.pushHandOff(s, target.id);
        if (isOwnerLink) ownerAnswered = ok;
        // Still on this node: a member where it is.
        if (!ok) this.session(s, from.id, 'present');
      }
      // The owner is connected elsewhere (or its handoff failed): it stays where it is.
      if (owner !== null && !ownerAnswered) answer({ status: Status.Ok, payload: EMPTY });
      await store.script(S.endMove, newId);
      await store.sendToNode(target.id, { kind: 'room-migrated', newRoomId: newId, oldRoomId: roomId });
    } catch (error) {
      this.deps.emit('store-error', { op: 'room-migrate', error });
      await store.script(S.endMove, roomId).catch(() => undefined);
    }
  }

  /** Any ONLINE node of the type in the cluster (any process), least loaded first. */
  private pickTarget(from: RoomNode): Promise<NodeInfo | null> {
    return pickRoomTarget(this.deps.store, from);
  }
}
