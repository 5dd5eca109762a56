/**
 * client.room (DESIGN "Rooms", PROTOCOL section 10): create, join, leave, info, properties,
 * broadcasts and the room's migration, with typed events. A user is in one room at most; the
 * room follows the client across migrations (its id changes, its members and owner stay).
 */
import { EventEmitter } from 'node:events';

import { DiarkisError, type DiarkisErrorCode } from './errors';
import type { ClientEventMap, Response } from './types';
import { invalid } from './validate';

export type RoomProps = { [key: string]: unknown };

/** The answer of join() and info(). */
export interface RoomState {
  roomId: string;
  ownerId: string;
  /** In join order (the longest-standing first). */
  members: string[];
  props: RoomProps;
}

export interface RoomMigrationInfo {
  oldRoomId: string;
  newRoomId: string;
  ownerId: string;
}

/** Why the client is no longer in its room without having called leave(). */
export type RoomLeftReason = 'room-migration-timeout' | 'removed';

export interface RoomEventMap {
  memberJoin: [uid: string];
  memberLeave: [uid: string];
  message: [fromUid: string, payload: Buffer];
  props: [props: RoomProps];
  ownerChange: [ownerId: string];
  /** Every member, once per move: the room lives on under newRoomId. */
  migrated: [info: RoomMigrationInfo];
  /** Out of the room without leave(): the room did not move us in time, or the room removed us. */
  left: [reason: RoomLeftReason, roomId: string];
}

/** What a room needs from its client (BaseClient). */
export interface RoomClient {
  readonly migrationMode: 'auto' | 'manual';
  request(ver: number, cmd: number, payload?: Uint8Array): Promise<Response>;
  send(ver: number, cmd: number, payload?: Uint8Array): boolean;
  rsend(ver: number, cmd: number, payload?: Uint8Array): boolean;
  on<K extends keyof ClientEventMap>(event: K, listener: (...args: ClientEventMap[K]) => void): unknown;
  off<K extends keyof ClientEventMap>(event: K, listener: (...args: ClientEventMap[K]) => void): unknown;
}

const VER = 1;
const Cmd = { Create: 1, Join: 2, Leave: 3, Broadcast: 4, Info: 5, SetProps: 6, Migrate: 7, OwnerChanged: 8 } as const;

/** The node's Bad codes ({"error": code}) as DiarkisError codes. */
const WIRE_ERRORS: Record<string, DiarkisErrorCode> = {
  'bad-request': 'invalid-argument',
  'already-in-room': 'already-in-room',
  'not-in-room': 'not-in-room',
  'not-found': 'room-not-found',
  'room-full': 'room-full',
  'not-owner': 'not-owner',
  migrating: 'room-busy',
  'not-offline': 'room-busy',
  'no-target': 'no-target',
};

function body(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

function parse(payload: Buffer): Record<string, unknown> | null {
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export class Room extends EventEmitter<RoomEventMap> {
  private roomId: string | undefined;
  private owner: string | undefined;
  private me: string | undefined;
  private lastMove: RoomMigrationInfo | undefined;
  /** Room pushes that did not parse (counted, never thrown). */
  badPushes = 0;

  constructor(private readonly client: RoomClient) {
    super();
    client.on('push', (ver, cmd, payload) => {
      if (ver === VER) this.onPush(cmd, payload);
    });
    client.on('error', (err) => {
      if (err.code === 'room-migration-timeout') this.fellBack();
    });
    client.on('offline', () => {
      // Automatic mode: the owner moves its room (the node answers room-busy if the room's
      // node is not the one going offline; then the node moves the owner by itself).
      if (client.migrationMode === 'auto' && this.isOwner) this.migrate().catch(() => undefined);
    });
  }

  /** The room's id now (it changes when the room migrates); undefined outside a room. */
  get id(): string | undefined {
    return this.roomId;
  }

  get ownerId(): string | undefined {
    return this.owner;
  }

  /** This client's uid as the room knows it (after create or join). */
  get uid(): string | undefined {
    return this.me;
  }

  get isOwner(): boolean {
    return this.roomId !== undefined && this.me !== undefined && this.owner === this.me;
  }

  async create(options: { maxMembers: number; props?: RoomProps }): Promise<{ roomId: string; ownerId: string }> {
    if (typeof options !== 'object' || options === null) throw invalid('room.create needs { maxMembers, props? }');
    const { maxMembers, props } = options;
    if (!Number.isInteger(maxMembers) || maxMembers < 1) throw invalid('maxMembers must be a positive integer');
    const r = await this.call(Cmd.Create, 'create', props === undefined ? { maxMembers } : { maxMembers, props });
    const roomId = String(r.roomId);
    const ownerId = String(r.ownerId);
    this.roomId = roomId;
    this.owner = ownerId;
    this.me = ownerId;
    return { roomId, ownerId };
  }

  async join(roomId: string): Promise<RoomState> {
    if (typeof roomId !== 'string' || roomId === '') throw invalid('room.join needs a room id');
    const st = this.toState(await this.call(Cmd.Join, 'join', { roomId }));
    this.roomId = st.roomId;
    this.owner = st.ownerId;
    // The join answer lists members in join order: the joiner last (PROTOCOL 10, ours).
    this.me = st.members[st.members.length - 1];
    return st;
  }

  async info(): Promise<RoomState> {
    const st = this.toState(await this.call(Cmd.Info, 'info'));
    this.roomId = st.roomId;
    this.owner = st.ownerId;
    return st;
  }

  async setProps(props: RoomProps): Promise<RoomProps> {
    if (typeof props !== 'object' || props === null || Array.isArray(props)) throw invalid('room.setProps needs an object');
    const r = await this.call(Cmd.SetProps, 'setProps', { props });
    return (r.props ?? {}) as RoomProps;
  }

  async leave(): Promise<{ roomId: string }> {
    const r = await this.call(Cmd.Leave, 'leave');
    this.roomId = undefined;
    this.owner = undefined;
    return { roomId: String(r.roomId) };
  }

  /** To every other member (1/4). Reliable by default; unreliable goes as one datagram on UDP. */
  broadcast(payload: Uint8Array, options: { reliable?: boolean } = {}): boolean {
    if (this.roomId === undefined) throw new DiarkisError('not-in-room', 'room.broadcast outside a room');
    return options.reliable === false ? this.client.send(VER, Cmd.Broadcast, payload) : this.client.rsend(VER, Cmd.Broadcast, payload);
  }

  /**
   * The owner moves the room off its OFFLINE node (PROTOCOL 10.2). Resolves once this client is in
   * the migrated room (claimed at the target when it moved with it). Bad 'not-owner' otherwise.
   */
  async migrate(): Promise<RoomMigrationInfo> {
    if (this.roomId === undefined) throw new DiarkisError('not-in-room', 'room.migrate outside a room');
    const moved = new Promise<void>((resolve, reject) => {
      const done = (): void => {
        this.client.off('migrated', onMigrated);
        this.client.off('disconnect', onDisconnect);
      };
      const onMigrated = (): void => {
        done();
        resolve();
      };
      const onDisconnect = (code: DiarkisErrorCode, message: string): void => {
        done();
        reject(new DiarkisError(code, `room migration ended by ${code}: ${message}`));
      };
      this.client.on('migrated', onMigrated);
      this.client.on('disconnect', onDisconnect);
      this.stopWaiting = done;
    });
    moved.catch(() => undefined);
    let res: Response;
    try {
      res = await this.client.request(VER, Cmd.Migrate);
    } catch (err) {
      this.stopWaiting();
      throw err;
    }
    if (res.status !== 1) {
      this.stopWaiting();
      throw this.refusal('migrate', res);
    }
    // With the 7.4 body the native session is moving us: wait for the claim.
    if (res.payload.length > 0) await moved;
    else this.stopWaiting();
    if (this.lastMove === undefined) throw new DiarkisError('protocol-error', 'room.migrate answered without the 1/7 push');
    return this.lastMove;
  }

  private stopWaiting: () => void = () => undefined;

  private async call(cmd: number, name: string, req?: unknown): Promise<Record<string, unknown>> {
    const res = await this.client.request(VER, cmd, req === undefined ? undefined : body(req));
    if (res.status !== 1) throw this.refusal(name, res);
    if (res.payload.length === 0) return {};
    const v = parse(res.payload);
    if (v === null) throw new DiarkisError('protocol-error', `room.${name}: the answer is not a JSON object`);
    return v;
  }

  private refusal(name: string, res: Response): DiarkisError {
    const wire = parse(res.payload)?.error;
    const code = typeof wire === 'string' ? WIRE_ERRORS[wire] : undefined;
    if (res.status === 4 && code !== undefined) return new DiarkisError(code, `room.${name} refused: ${String(wire)}`);
    return new DiarkisError('protocol-error', `room.${name} answered status ${res.status}${typeof wire === 'string' ? ` (${wire})` : ''}`);
  }

  private toState(r: Record<string, unknown>): RoomState {
    const members = Array.isArray(r.members) ? r.members.map(String) : [];
    const props = typeof r.props === 'object' && r.props !== null ? (r.props as RoomProps) : {};
    return { roomId: String(r.roomId), ownerId: String(r.ownerId), members, props };
  }

  private onPush(cmd: number, payload: Buffer): void {
    if (cmd === Cmd.Broadcast) {
      const n = payload.length > 0 ? payload[0] : -1;
      if (n < 0 || payload.length < 1 + n) {
        this.badPushes++;
        return;
      }
      this.emit('message', payload.toString('utf8', 1, 1 + n), payload.subarray(1 + n));
      return;
    }
    const v = parse(payload);
    if (v === null) {
      this.badPushes++;
      return;
    }
    switch (cmd) {
      case Cmd.Join:
        this.emit('memberJoin', String(v.uid));
        return;
      case Cmd.Leave:
        if (String(v.uid) === this.me && this.roomId !== undefined) {
          const id = this.roomId;
          this.roomId = undefined;
          this.owner = undefined;
          this.emit('left', 'removed', id);
        } else this.emit('memberLeave', String(v.uid));
        return;
      case Cmd.SetProps:
        this.emit('props', (v.props ?? {}) as RoomProps);
        return;
      case Cmd.Migrate: {
        const info: RoomMigrationInfo = { oldRoomId: String(v.oldRoomId), newRoomId: String(v.newRoomId), ownerId: String(v.ownerId) };
        this.roomId = info.newRoomId;
        this.owner = info.ownerId;
        this.lastMove = info;
        this.emit('migrated', info);
        return;
      }
      case Cmd.OwnerChanged:
        this.owner = String(v.ownerId);
        this.emit('ownerChange', this.owner);
        return;
      default:
        this.badPushes++;
    }
  }

  /** PROTOCOL 10.1: the room did not move us in time; we migrated alone and leave it. */
  private fellBack(): void {
    const id = this.roomId;
    if (id === undefined) return;
    this.roomId = undefined;
    this.owner = undefined;
    // Held by the migration queue and sent to the new node after the claim.
    this.client.request(VER, Cmd.Leave).catch(() => undefined);
    this.emit('left', 'room-migration-timeout', id);
  }
}
