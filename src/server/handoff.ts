/**
 * Migration between nodes (PROTOCOL 7.3, 7.4, 7.8), transport-neutral: picks a target, puts the
 * handoff record (which moves the user's routing to the target in the same step), and reports
 * handoffs that expire unclaimed. The old node's transport answers and closes; the target's
 * transport takes the claim.
 */
import { randomFillSync } from 'node:crypto';
import { TICKET_SIZE } from '../protocol';
import type { Clock } from './clock';
import type { RealtimeNode } from './node';
import type { Session } from './session';
import { remoteForwarder, type Forwarder } from './forward';
import type { ClaimResult, ClusterStore, HandoffRecord, SessionRecord } from './store';
import { PortRotation } from './node-ports';
import { TargetPicker } from './target-picker';
import type { EmitFn } from './types';

/** What the target node must offer beyond RealtimeNode (optional there, so other nodes compile). */
export interface HandoffTarget extends RealtimeNode {
  /** Removes a session still waiting for its claim; returns it (with its held pushes) or null. */
  expireHandoff?(sid: string): Session | null;
  /** A request the old node got after its migration push (PROTOCOL 10.2), for the session here. */
  acceptForwarded?(sid: string, ver: number, cmd: number, body: Buffer): void;
  /** The port a migrating client should use (spreads a storm over the node's listeners or sockets). */
  claimAddress?(): { host: string; port: number };
  /** At the old node: a session it handed off was claimed at its target (frees a notice slot). */
  handoffClaimed?(sid: string): void;
  /** The node paces its offline notices on claims (so the store must tell it of them). */
  readonly pacesOnClaims?: boolean;
}

export interface HandoffDeps {
  store: ClusterStore;
  nodes: ReadonlyMap<string, HandoffTarget>;
  ttlMs: number;
  clock: Clock;
  emit: EmitFn;
}

export interface MigrateTarget {
  /** "host:port", "[v6]:port" for IPv6. */
  address: string;
  ticket: Buffer;
  to: string;
}

/** status-1 body of the migrate answer: addrLen:uint16 || UTF-8 address || ticket(16). */
export function encodeMigrateAnswer(address: string, ticket: Buffer): Buffer {
  const a = Buffer.from(address, 'utf8');
  const out = Buffer.allocUnsafe(2 + a.length + ticket.length);
  out.writeUInt16BE(a.length, 0);
  a.copy(out, 2);
  ticket.copy(out, 2 + a.length);
  return out;
}

/**
 * A host with a colon is an IPv6 literal (a name or an IPv4 literal has none): no net.isIPv6, a
 * large regex whose first use alone cost 3-4 ms inside the first move of a node process.
 */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') && host[0] !== '[' ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Tickets per CSPRNG fill: randomBytes per move was a call into OpenSSL (~3.5 us) per ticket. */
export const TICKETS_PER_FILL = 256;
let ticketPool = Buffer.alloc(0);
let ticketAt = 0;

/**
 * A fresh ticket: 16 bytes of one CSPRNG fill shared by TICKETS_PER_FILL tickets. Each fill is a
 * new buffer (never refilled in place), so a ticket handed out never changes and none repeats.
 */
export function newTicket(): Buffer {
  if (ticketAt + TICKET_SIZE > ticketPool.length) {
    ticketPool = randomFillSync(Buffer.allocUnsafeSlow(TICKET_SIZE * TICKETS_PER_FILL));
    ticketAt = 0;
  }
  const t = ticketPool.subarray(ticketAt, ticketAt + TICKET_SIZE);
  ticketAt += TICKET_SIZE;
  return t;
}

/**
 * The target holds a handed-off session that only a claim may bind; the handoff TTL (store)
 * governs it, not the endpoint's pending TTL. A session already bound (a claim that overtook the
 * adoption) is left as it is.
 */
export function adoptPending(target: RealtimeNode, rec: SessionRecord): Session {
  const pending = target.adoptSession(rec);
  if (pending.link !== null) return pending;
  pending.awaitingClaim = true;
  if (pending.pendingTimer !== null) {
    clearTimeout(pending.pendingTimer);
    pending.pendingTimer = null;
  }
  return pending;
}

/**
 * A session this node does not hold yet but the registry gives it (registered or handed here by
 * another process, and the node's stream not read that far). A handoff still waiting for its claim
 * is adopted as pending, so only the claim binds it: the claim may overtake the stream entry.
 */
export async function adoptFromRegistry(node: RealtimeNode, store: ClusterStore, sid: string): Promise<Session | null> {
  const found = await store.lookupSession(sid);
  if (found === null || found.rec.nodeId !== node.id) return null;
  return found.handoffPending ? adoptPending(node, found.rec) : node.adoptSession(found.rec);
}

/** Session adopter for multi-process stores: registered sessions and handed-off ones. */
export function sessionAdopter(node: RealtimeNode): (rec: SessionRecord, handedOff: boolean) => void {
  return (rec, handedOff) => {
    if (handedOff) adoptPending(node, rec);
    else node.adoptSession(rec);
  };
}

export class Handoffs {
  private unsubscribe: (() => void) | null = null;
  /** One node listing per burst of migrations, not one per session. */
  readonly picker: TargetPicker;
  /** A target in another process: its registered ports in turn. */
  private readonly ports = new PortRotation();

  constructor(private readonly deps: HandoffDeps) {
    this.picker = new TargetPicker(deps.store);
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.deps.store.subscribeHandoffExpiry((rec) => this.expired(rec));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /**
   * Hands `session` from node `from` to another ONLINE node of the same type, least loaded first.
   * `to` = that node only (a room's target); `viaPush` = a migration the server starts (PROTOCOL
   * 10.2), whose late requests are forwarded to the target. Null when there is none. On success the routing already points at the target, which holds the
   * user's pushes until the claim.
   */
  async migrate(from: RealtimeNode, session: Session, to?: string, viaPush = false): Promise<MigrateTarget | null> {
    const { store, nodes, clock } = this.deps;
    // A room's move names its target; a node's sessions share one listing per burst (TargetPicker).
    let best: { id: string; host: string; port: number; ports?: number[]; users: number } | null = null;
    if (to !== undefined) {
      for (const n of await store.listNodes(from.type)) {
        if (n.id !== from.id && n.state === 'online' && n.id === to) best = n;
      }
    } else {
      best = await this.picker.pick(from.type, from.id);
    }
    if (best === null) return null;
    const ticket = newTicket();
    const { nodeId: _old, ...rest } = session.toRecord(from.id);
    void _old;
    const rec: HandoffRecord = { ...rest, ticket: ticket.toString('hex'), from: from.id, to: best.id, createdAt: clock.now() };
    if (viaPush) rec.viaPush = true;
    if ((from as HandoffTarget).pacesOnClaims === true) rec.reportClaim = true;
    // In-process target: it holds a pending session before the routing moves, so no push is lost.
    const target = nodes.get(best.id);
    if (target !== undefined) adoptPending(target, { ...rest, nodeId: best.id });
    await store.putHandoff(rec, this.deps.ttlMs);
    this.deps.emit('handoff', { uid: rec.uid, sid: rec.sid, from: from.id, to: best.id });
    const at = target?.claimAddress?.() ?? { host: best.host, port: this.ports.pick(best) };
    return { address: formatAddress(at.host, at.port), ticket, to: best.id };
  }

  /** Forwarding of late requests: to an in-process target directly, else through the store. */
  forwarder(to: string, sid: string): Forwarder | null {
    const target = this.deps.nodes.get(to);
    if (target === undefined) return remoteForwarder(this.deps.store, to, sid, this.deps.emit);
    if (target.acceptForwarded === undefined) return null;
    // In process, a request is with the target before the old link acknowledges it: no end needed.
    return { forward: (ver, cmd, body) => target.acceptForwarded?.(sid, ver, cmd, body), end: () => undefined };
  }

  /**
   * The claim; a first one is told to an old node in this process at once (a store across
   * processes also tells it through its stream: the second call is a no-op there).
   */
  async claim(sid: string, ticket: Buffer): Promise<ClaimResult> {
    const r = await this.deps.store.claimHandoff(sid, ticket.toString('hex'));
    if (r.ok && !r.repeat) this.deps.nodes.get(r.record.from)?.handoffClaimed?.(sid);
    return r;
  }

  private expired(rec: HandoffRecord): void {
    const s = this.deps.nodes.get(rec.to)?.expireHandoff?.(rec.sid) ?? null;
    const held = s === null ? [] : s.takeHeld();
    this.deps.emit('handoff-expired', {
      nodeId: rec.to,
      from: rec.from,
      uid: rec.uid,
      sid: rec.sid,
      data: rec.data,
      held,
    });
  }
}
