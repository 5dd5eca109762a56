/**
 * A user's live session on one node: keys, user data, and the transport link it is bound to.
 * Transport-agnostic: a TCP connection or (later) a UDP peer implements SessionLink.
 */
import {
  BuiltinCmd,
  encodeFin,
  FinReason,
  fromHex,
  PENDING_PUSH_LIMIT,
  RESPONSE_HEADER_SIZE,
  SessionCrypto,
  Status,
  VER_BUILTIN,
  writeResponseHeader,
} from '../protocol';
import { ForwardGate } from './forward';
import type { SessionRecord } from './store';
import type { JsonObject } from './types';

export interface SessionLink {
  /** Sends one encoded response/push packet. */
  sendPacket(packet: Buffer): void;
  /** Closes the link after what was sent (a Fin push is sent by the caller first). */
  end(): void;
}

export interface HeldPush {
  ver: number;
  cmd: number;
  payload: Buffer;
}

export class Session {
  readonly uid: string;
  readonly sid: string;
  readonly sidBytes: Buffer;
  readonly crypto: SessionCrypto;
  readonly data: JsonObject;
  clientKey: string;
  /** Hex keys as registered ("" with encryption off), for handoff records. */
  private readonly keysHex: { key: string; iv: string; macKey: string };
  link: SessionLink | null = null;
  /** Pushes routed here before the client connected (bounded). */
  private held: HeldPush[] = [];
  /** PROTOCOL 7.6: handed off to this node; only a claim with the ticket may bind it. */
  awaitingClaim = false;
  /** Handed off by a server-started migration push (PROTOCOL 10.2): the old link only drains. */
  handedOffByPush = false;
  /**
   * After that push, requests the client sent before it saw the push still reach the old link:
   * they go to the session's new node (in-process targets), never answered into the void.
   */
  forward: ((ver: number, cmd: number, body: Buffer) => void) | null = null;
  /** At the old node, for a target in another process: tells it the old link is done. */
  private forwardEnd: (() => void) | null = null;
  /**
   * At a target in another process than the old node (the record's forwardFrom): opens when the
   * old node's forward-end arrives; what comes on the new link waits for it.
   */
  readonly remoteForward: ForwardGate | null;
  /** At the target: requests forwarded by the old node, served first once the claim binds. */
  private forwarded: HeldPush[] = [];
  /** A migration request of this session is being handled: the shutdown timeout spares it. */
  migrating = false;
  /** Expiry of a registered session that never connects. */
  pendingTimer: NodeJS.Timeout | null = null;

  constructor(rec: SessionRecord) {
    this.uid = rec.uid;
    this.sid = rec.sid;
    this.sidBytes = fromHex(rec.sid);
    this.crypto =
      rec.key === ''
        ? SessionCrypto.plain()
        : new SessionCrypto({ key: fromHex(rec.key), iv: fromHex(rec.iv), macKey: fromHex(rec.macKey) });
    // JSON round trip: the data is ours alone and holds JSON values only.
    this.data = JSON.parse(JSON.stringify(rec.data)) as JsonObject;
    this.clientKey = rec.clientKey;
    this.keysHex = { key: rec.key, iv: rec.iv, macKey: rec.macKey };
    this.remoteForward = rec.forwardFrom === undefined ? null : new ForwardGate();
  }

  /** After a migration push: where late requests go, and what the end of the old link does. */
  forwardTo(f: { forward(ver: number, cmd: number, body: Buffer): void; end(): void } | null): void {
    this.forward = f === null ? null : (ver, cmd, body) => f.forward(ver, cmd, body);
    this.forwardEnd = f === null ? null : () => f.end();
  }

  /** The old link of a push-handed session is closed: nothing more is forwarded (once). */
  endForward(): void {
    const f = this.forwardEnd;
    this.forwardEnd = null;
    f?.();
  }

  /** Forwarded requests wait to be served (runForwarded has not taken them yet). */
  get hasForwarded(): boolean {
    return this.forwarded.length > 0;
  }

  /**
   * The session as a record (what a handoff or a Redis store would carry). `data` is this session's
   * own object, not a copy: whoever keeps the record serialises or copies it (a handoff is encoded
   * at once, an in-process target's Session and the memory store copy it), so a move does not copy
   * it a third time.
   */
  toRecord(nodeId: string): SessionRecord {
    return {
      uid: this.uid,
      sid: this.sid,
      nodeId,
      ...this.keysHex,
      clientKey: this.clientKey,
      data: this.data,
    };
  }

  /** header || secure(body) in one buffer (sealed with headroom: no extra copy). */
  encode(ver: number, cmd: number, status: number, body: Uint8Array): Buffer {
    const out = this.crypto.seal(body, RESPONSE_HEADER_SIZE);
    writeResponseHeader(out, 0, ver, cmd, status, out.length - RESPONSE_HEADER_SIZE);
    return out;
  }

  /** Sends a push, or holds it (bounded) until the client connects. False when dropped. */
  push(ver: number, cmd: number, payload: Uint8Array): boolean {
    if (this.link !== null) {
      this.link.sendPacket(this.encode(ver, cmd, Status.Push, payload));
      return true;
    }
    if (this.held.length >= PENDING_PUSH_LIMIT) return false;
    this.held.push({ ver, cmd, payload: Buffer.from(payload) });
    return true;
  }

  /** Holds a request forwarded by the old node (bounded like held pushes). False when dropped. */
  holdForwarded(ver: number, cmd: number, body: Buffer): boolean {
    if (this.forwarded.length >= PENDING_PUSH_LIMIT) return false;
    this.forwarded.push({ ver, cmd, payload: Buffer.from(body) });
    return true;
  }

  takeForwarded(): HeldPush[] {
    const f = this.forwarded;
    this.forwarded = [];
    return f;
  }

  /** Removes and returns the pushes held for a session that never connected (for the report). */
  takeHeld(): HeldPush[] {
    const held = this.held;
    this.held = [];
    return held;
  }

  /** Binds the session to a link and flushes held pushes in order. */
  bind(link: SessionLink): void {
    this.link = link;
    if (this.pendingTimer !== null) {
      clearTimeout(this.pendingTimer);
      this.pendingTimer = null;
    }
    const held = this.held;
    this.held = [];
    for (const p of held) this.push(p.ver, p.cmd, p.payload);
  }

  /** Sends a Fin push with the reason and ends the link. */
  fin(reason: FinReason): void {
    const link = this.link;
    if (link === null) return;
    link.sendPacket(this.encode(VER_BUILTIN, BuiltinCmd.Fin, Status.Push, encodeFin(reason)));
    link.end();
  }
}
