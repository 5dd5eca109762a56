/**
 * The cluster's shared state: node registry, session registry (sid -> node, uid -> sid) and the
 * routing of pushes for a user to the node that holds it. Promise-returning throughout so a Redis
 * implementation (multi-process clusters) can sit behind the same interface; MemoryStore is the
 * embedded single-process default.
 */
import { timingSafeEqual } from 'node:crypto';
import { Clock, realClock } from './clock';
import type { JsonObject, NodeInfo, NodeState, NodeType } from './types';

/** A session as the registry keeps it: JSON-serialisable (hex keys) so Redis can store it as is. */
export interface SessionRecord {
  uid: string;
  /** 32 hex characters. */
  sid: string;
  nodeId: string;
  /** 32 hex characters each, or "" with encryption off. */
  key: string;
  iv: string;
  macKey: string;
  clientKey: string;
  /** Initial user data (a handoff carries the user's data here). */
  data: JsonObject;
  /**
   * Handed off by a server-started migration push (PROTOCOL 10.2) from this node: requests the
   * old node got after the push are forwarded here through the store, ended by a forward-end.
   */
  forwardFrom?: string;
}

/** PROTOCOL 7.3: what the old node hands the target. JSON-serialisable like SessionRecord. */
export interface HandoffRecord {
  uid: string;
  sid: string;
  key: string;
  iv: string;
  macKey: string;
  clientKey: string;
  /** The user's data as it stood after every earlier request of the client. */
  data: JsonObject;
  /** 16 random bytes, 32 hex characters. */
  ticket: string;
  /** Node ids. */
  from: string;
  to: string;
  /** Clock time (ms) of the handoff. */
  createdAt: number;
  /** Started by the server's migration push (PROTOCOL 10.2), not by the client's request. */
  viaPush?: boolean;
  /** The old node paces its offline notices on claims: the store tells it of the first one. */
  reportClaim?: boolean;
}

/**
 * Result of a claim. `repeat` = the ticket was already claimed and the TTL still runs (the holder
 * lost the answer and asks again). Refusals say why, for the counters.
 */
export type ClaimResult =
  | { ok: true; record: HandoffRecord; repeat: boolean }
  | { ok: false; reason: 'unknown' | 'wrong-ticket' | 'expired' };

/** Called with a handoff whose TTL ran out unclaimed. */
export type HandoffExpiry = (rec: HandoffRecord) => void;

/** Delivers a routed push to a session on the subscribing node. */
export type PushDelivery = (sid: string, ver: number, cmd: number, payload: Buffer) => void;

/**
 * Makes a node hold a session registered or handed to it from another process, before any push
 * routed to it after that arrives. `handedOff` = the session waits for its claim (PROTOCOL 7.6).
 */
export type SessionAdopter = (rec: SessionRecord, handedOff: boolean) => void;

/**
 * A message for one node through its ordered stream (multi-process stores): after everything
 * routed to that node before it. `forward` = a request the old node got after its migration push
 * (PROTOCOL 10.2); `forward-end` = the old link is done, nothing more will be forwarded;
 * `claimed` = the session this node handed off was claimed at its target (the store's claim sends it).
 */
export type NodeMessage =
  | { kind: 'forward'; sid: string; ver: number; cmd: number; body: Buffer }
  | { kind: 'forward-end'; sid: string }
  | { kind: 'claimed'; sid: string }
  | { kind: 'room-migrated'; newRoomId: string; oldRoomId: string };

/** A registered session, and whether a handoff to its node still waits for the claim (PROTOCOL 7.6). */
export interface SessionLookup {
  rec: SessionRecord;
  handoffPending: boolean;
}

export interface ClusterStore {
  registerNode(node: Omit<NodeInfo, 'users'>): Promise<void>;
  unregisterNode(id: string): Promise<void>;
  setNodeState(id: string, state: NodeState): Promise<void>;
  listNodes(type?: NodeType): Promise<NodeInfo[]>;
  /** An ONLINE node of that type, least loaded first; null when there is none. */
  pickNode(type: NodeType): Promise<NodeInfo | null>;

  /** Registers (or, for a known sid, replaces) a session; the user's pushes route to it from now on. */
  registerSession(rec: SessionRecord): Promise<void>;
  getSession(sid: string): Promise<SessionRecord | null>;
  /**
   * The session and, in the same step, whether it is handed off and not yet claimed: a node that
   * adopts a session from the registry must know, whatever order the claim and the handoff reach it.
   */
  lookupSession(sid: string): Promise<SessionLookup | null>;
  sessionOfUser(uid: string): Promise<SessionRecord | null>;
  /** Migration hook: from now on the session (and its pushes) belong to `nodeId`. */
  moveSession(sid: string, nodeId: string): Promise<void>;
  removeSession(sid: string): Promise<void>;

  /**
   * Multi-process stores only: how the subscribed node adopts sessions registered (entry) or handed
   * to it (handoff) by another process. Set before subscribePushes; in-process stores need none.
   */
  setSessionAdopter?(nodeId: string, adopt: SessionAdopter): void;
  /** A node receives the pushes routed to its sessions; the returned function unsubscribes. */
  subscribePushes(nodeId: string, deliver: PushDelivery): Promise<() => void>;
  /** Multi-process stores: messages for `nodeId` are handed to `fn`, in stream order. */
  setNodeMessageHandler?(nodeId: string, fn: (msg: NodeMessage) => void): void;
  /**
   * Multi-process stores: appends `msg` to node `to`'s stream. Calls made in order are appended
   * in that order (one connection, no script).
   */
  sendToNode?(to: string, msg: NodeMessage): Promise<void>;
  /** Routes a push to the node of the user's session; false when the user has none. */
  routePush(uid: string, ver: number, cmd: number, payload: Buffer): Promise<boolean>;

  /**
   * Stores a pending handoff for `ttlMs` and, in the same step, moves the session (its pushes,
   * its data and its user count) to `rec.to`. Replaces an earlier handoff of the same sid.
   * Resolves once every push routed to `rec.from` before the move has been delivered there, so
   * the old node's migrate answer follows them.
   */
  putHandoff(rec: HandoffRecord, ttlMs: number): Promise<void>;
  /** Atomic: of concurrent first claims with the right ticket exactly one gets repeat = false. */
  claimHandoff(sid: string, ticket: string): Promise<ClaimResult>;
  /** Handoffs that expire unclaimed are reported here; the returned function unsubscribes. */
  subscribeHandoffExpiry(fn: HandoffExpiry): Promise<() => void>;

  close(): Promise<void>;
}

interface PendingHandoff {
  rec: HandoffRecord;
  expiresAt: number;
  claimed: boolean;
  cancel: () => void;
}

function sameTicket(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export class MemoryStore implements ClusterStore {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly userSid = new Map<string, string>();
  private readonly subscribers = new Map<string, PushDelivery>();
  private readonly handoffs = new Map<string, PendingHandoff>();
  private readonly expiryListeners = new Set<HandoffExpiry>();
  private readonly clock: Clock;

  constructor(opts: { clock?: Clock } = {}) {
    this.clock = opts.clock ?? realClock;
  }

  registerNode(node: Omit<NodeInfo, 'users'>): Promise<void> {
    this.nodes.set(node.id, { ...node, users: this.countUsers(node.id) });
    return Promise.resolve();
  }

  unregisterNode(id: string): Promise<void> {
    this.nodes.delete(id);
    this.subscribers.delete(id);
    return Promise.resolve();
  }

  setNodeState(id: string, state: NodeState): Promise<void> {
    const n = this.nodes.get(id);
    if (n !== undefined) n.state = state;
    return Promise.resolve();
  }

  listNodes(type?: NodeType): Promise<NodeInfo[]> {
    const out: NodeInfo[] = [];
    for (const n of this.nodes.values()) if (type === undefined || n.type === type) out.push({ ...n });
    return Promise.resolve(out);
  }

  pickNode(type: NodeType): Promise<NodeInfo | null> {
    let best: NodeInfo | null = null;
    for (const n of this.nodes.values()) {
      if (n.type !== type || n.state !== 'online') continue;
      if (best === null || n.users < best.users) best = n;
    }
    return Promise.resolve(best === null ? null : { ...best });
  }

  registerSession(rec: SessionRecord): Promise<void> {
    this.dropSession(rec.sid);
    this.sessions.set(rec.sid, { ...rec });
    this.userSid.set(rec.uid, rec.sid);
    this.bump(rec.nodeId, 1);
    return Promise.resolve();
  }

  getSession(sid: string): Promise<SessionRecord | null> {
    const s = this.sessions.get(sid);
    return Promise.resolve(s === undefined ? null : { ...s });
  }

  lookupSession(sid: string): Promise<SessionLookup | null> {
    const s = this.sessions.get(sid);
    if (s === undefined) return Promise.resolve(null);
    const h = this.handoffs.get(sid);
    const handoffPending = h !== undefined && !h.claimed && h.rec.to === s.nodeId && this.clock.now() < h.expiresAt;
    return Promise.resolve({ rec: { ...s }, handoffPending });
  }

  sessionOfUser(uid: string): Promise<SessionRecord | null> {
    const sid = this.userSid.get(uid);
    return sid === undefined ? Promise.resolve(null) : this.getSession(sid);
  }

  moveSession(sid: string, nodeId: string): Promise<void> {
    const s = this.sessions.get(sid);
    if (s !== undefined && s.nodeId !== nodeId) {
      this.bump(s.nodeId, -1);
      s.nodeId = nodeId;
      this.bump(nodeId, 1);
    }
    return Promise.resolve();
  }

  removeSession(sid: string): Promise<void> {
    this.dropSession(sid);
    return Promise.resolve();
  }

  subscribePushes(nodeId: string, deliver: PushDelivery): Promise<() => void> {
    this.subscribers.set(nodeId, deliver);
    return Promise.resolve(() => {
      if (this.subscribers.get(nodeId) === deliver) this.subscribers.delete(nodeId);
    });
  }

  routePush(uid: string, ver: number, cmd: number, payload: Buffer): Promise<boolean> {
    // Delivered synchronously, so pushes keep the order of the routePush calls.
    const sid = this.userSid.get(uid);
    const s = sid === undefined ? undefined : this.sessions.get(sid);
    const deliver = s === undefined ? undefined : this.subscribers.get(s.nodeId);
    if (s === undefined || deliver === undefined) return Promise.resolve(false);
    deliver(s.sid, ver, cmd, payload);
    return Promise.resolve(true);
  }

  putHandoff(rec: HandoffRecord, ttlMs: number): Promise<void> {
    this.handoffs.get(rec.sid)?.cancel();
    // Our own copy: the caller's record may hold the old session's live data (Session.toRecord).
    rec = { ...rec, data: JSON.parse(JSON.stringify(rec.data)) as JsonObject };
    const s = this.sessions.get(rec.sid);
    if (s !== undefined) {
      s.data = rec.data;
      s.clientKey = rec.clientKey;
    } else {
      this.sessions.set(rec.sid, { ...rec, nodeId: rec.from });
      this.userSid.set(rec.uid, rec.sid);
      this.bump(rec.from, 1);
    }
    // Synchronous with the store update: a push routed after this call goes to the target.
    void this.moveSession(rec.sid, rec.to);
    const entry: PendingHandoff = { rec: { ...rec }, expiresAt: this.clock.now() + ttlMs, claimed: false, cancel: () => undefined };
    entry.cancel = this.clock.setTimer(() => this.expire(rec.sid, entry), ttlMs);
    this.handoffs.set(rec.sid, entry);
    return Promise.resolve();
  }

  claimHandoff(sid: string, ticket: string): Promise<ClaimResult> {
    const h = this.handoffs.get(sid);
    if (h === undefined) return Promise.resolve({ ok: false, reason: 'unknown' });
    if (!sameTicket(h.rec.ticket, ticket)) return Promise.resolve({ ok: false, reason: 'wrong-ticket' });
    if (this.clock.now() >= h.expiresAt) {
      this.expire(sid, h);
      return Promise.resolve({ ok: false, reason: 'expired' });
    }
    const repeat = h.claimed;
    h.claimed = true;
    return Promise.resolve({ ok: true, record: { ...h.rec }, repeat });
  }

  subscribeHandoffExpiry(fn: HandoffExpiry): Promise<() => void> {
    this.expiryListeners.add(fn);
    return Promise.resolve(() => {
      this.expiryListeners.delete(fn);
    });
  }

  close(): Promise<void> {
    for (const h of this.handoffs.values()) h.cancel();
    this.handoffs.clear();
    this.expiryListeners.clear();
    this.nodes.clear();
    this.sessions.clear();
    this.userSid.clear();
    this.subscribers.clear();
    return Promise.resolve();
  }

  /** TTL over: a claimed handoff just ends (its ticket with it); an unclaimed one is reported. */
  private expire(sid: string, h: PendingHandoff): void {
    if (this.handoffs.get(sid) !== h) return;
    h.cancel();
    this.handoffs.delete(sid);
    if (h.claimed) return;
    for (const fn of [...this.expiryListeners]) fn({ ...h.rec });
  }

  private dropSession(sid: string): void {
    const s = this.sessions.get(sid);
    if (s === undefined) return;
    this.sessions.delete(sid);
    if (this.userSid.get(s.uid) === sid) this.userSid.delete(s.uid);
    this.bump(s.nodeId, -1);
  }

  private bump(nodeId: string, d: number): void {
    const n = this.nodes.get(nodeId);
    if (n !== undefined) n.users = Math.max(0, n.users + d);
  }

  private countUsers(nodeId: string): number {
    let c = 0;
    for (const s of this.sessions.values()) if (s.nodeId === nodeId) c++;
    return c;
  }
}
