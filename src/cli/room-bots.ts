/**
 * Bots in rooms (`demo`, `bots --rooms`): bots are grouped into rooms of `size` in the order they
 * connect; the first of a group creates the room, the rest join; once the group is complete every
 * member broadcasts numbered messages until the run stops. Each member counts what it received
 * from every other member, so the report shows room messages lost, duplicated and out of order,
 * how many rooms migrated (the 1/7 push) and whether every room kept its members.
 */
import type { BaseClient } from '../index';
import { delay as wait } from './bot';

export interface RoomPlan {
  /** Members per room (4-8 in the demo). */
  size: number;
  /** Pause between two broadcasts of one member. */
  intervalMs: number;
  /** Bots in the run: bot i is in room floor(i / size); the last room may be smaller. */
  total: number;
}

export interface RoomRow {
  rooms: number;
  /** Rooms whose members saw a room migration (the 1/7 push). */
  migrated: number;
  /** Rooms that ended with every member they started with. */
  kept: number;
  sent: number;
  expected: number;
  received: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

interface Member {
  uid: string;
  sent: number;
  /** Per sender: the last number seen, and counts. */
  last: Map<string, number>;
  received: number;
  duplicated: number;
  outOfOrder: number;
  moved: boolean;
  members: string[] | null;
  lost: boolean;
}

interface Group {
  roomId: Promise<string>;
  /** The room's id now (it changes when the room migrates). */
  currentId?: string;
  setRoomId: (id: string) => void;
  fail: (err: unknown) => void;
  members: Member[];
  full: Promise<void>;
  /** Counts a member in; the group starts broadcasting once complete. */
  joined: () => void;
  /** Counts a member's final look at the room; the group closes once all have looked. */
  looked: () => void;
  allLooked: Promise<void>;
}

export class RoomBots {
  private readonly groups: Group[] = [];

  constructor(private readonly plan: RoomPlan) {
    if (!Number.isInteger(plan.size) || plan.size < 2) throw new RangeError('rooms need at least 2 members');
  }

  /** Runs one bot's room part on its connected client; resolves after `stop` once delivery settled. */
  async run(client: BaseClient, uid: string, index: number, stop?: AbortSignal): Promise<void> {
    const g = this.groupOf(index);
    const me: Member = { uid, sent: 0, last: new Map(), received: 0, duplicated: 0, outOfOrder: 0, moved: false, members: null, lost: false };
    g.members.push(me);
    const room = client.room;
    room.on('message', (from, payload) => {
      const n = payload.length === 4 ? payload.readUInt32BE(0) : 0;
      const last = me.last.get(from) ?? 0;
      if (n <= last) me.duplicated++;
      else {
        if (n !== last + 1) me.outOfOrder++;
        me.last.set(from, n);
        me.received++;
      }
    });
    room.on('migrated', (info) => {
      me.moved = true;
      g.currentId = info.newRoomId;
    });
    room.on('left', () => (me.lost = true));
    if (index % this.plan.size === 0) {
      try {
        const { roomId } = await room.create({ maxMembers: this.plan.size, props: { bots: true } });
        g.currentId ??= roomId;
        g.setRoomId(roomId);
      } catch (err) {
        g.fail(err);
        throw err;
      }
    } else {
      g.currentId ??= await g.roomId;
      // A late joiner may find the room moved (a new id): it follows the id its members saw.
      for (let attempt = 0; ; attempt++) {
        try {
          await room.join(g.currentId);
          break;
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'room-not-found' || attempt >= 50) throw err;
          await wait(100);
        }
      }
    }
    g.joined();
    await Promise.race([g.full, wait(30_000, stop)]);
    const buf = Buffer.alloc(4);
    while (stop?.aborted !== true && room.id !== undefined) {
      buf.writeUInt32BE(++me.sent, 0);
      room.broadcast(buf);
      await wait(this.plan.intervalMs, stop);
    }
    // Delivery settles: wait (bounded) until every other member's messages arrived.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !g.members.every((m) => m === me || (me.last.get(m.uid) ?? 0) >= m.sent)) await wait(50);
    me.members = room.id === undefined ? [] : (await room.info()).members;
    // Nobody closes (and so leaves the room) before every member has looked (bounded).
    g.looked();
    await Promise.race([g.allLooked, wait(10_000)]);
  }

  report(): RoomRow {
    const row: RoomRow = { rooms: this.groups.filter((g) => g !== undefined).length, migrated: 0, kept: 0, sent: 0, expected: 0, received: 0, lost: 0, duplicated: 0, outOfOrder: 0 };
    for (const g of this.groups) {
      if (g === undefined) continue;
      if (g.members.some((m) => m.moved)) row.migrated++;
      const uids = g.members.map((m) => m.uid).sort();
      if (g.members.every((m) => !m.lost && m.members !== null && [...m.members].sort().join() === uids.join())) row.kept++;
      else if (process.env.DIARKIS_DEBUG_ROOMS !== undefined) {
        console.error('room lost members:', uids.join(), g.members.map((m) => `${m.uid} lost=${m.lost} saw=${String(m.members)}`));
      }
      for (const m of g.members) {
        row.sent += m.sent;
        row.received += m.received;
        row.duplicated += m.duplicated;
        row.outOfOrder += m.outOfOrder;
        for (const other of g.members) {
          if (other === m) continue;
          row.expected += other.sent;
          row.lost += Math.max(0, other.sent - (m.last.get(other.uid) ?? 0));
        }
      }
    }
    return row;
  }

  /** Bot i's room (created on first use). */
  private groupOf(index: number): Group {
    const gi = Math.floor(index / this.plan.size);
    const known = this.groups[gi];
    if (known !== undefined) return known;
    let setRoomId!: (id: string) => void;
    let fail!: (err: unknown) => void;
    const roomId = new Promise<string>((res, rej) => {
      setRoomId = res;
      fail = rej;
    });
    roomId.catch(() => undefined);
    const expected = Math.min(this.plan.size, this.plan.total - gi * this.plan.size);
    let joinedCount = 0;
    let lookedCount = 0;
    let full!: () => void;
    let allLooked!: () => void;
    const g: Group = {
      roomId,
      setRoomId,
      fail,
      members: [],
      full: new Promise<void>((r) => (full = r)),
      joined: () => {
        if (++joinedCount === expected) full();
      },
      allLooked: new Promise<void>((r) => (allLooked = r)),
      looked: () => {
        if (++lookedCount === expected) allLooked();
      },
    };
    this.groups[gi] = g;
    return g;
  }
}
