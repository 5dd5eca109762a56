/** What bench/migration's two bots share: their configuration and the 2/4 sequence encoding. */
import type { BotType } from '../../src/cli/bot';

export interface StreamBotConfig {
  entryUrl: string;
  /** Requests sent and answers received, summed over every bot (offered vs delivered; measurement only). */
  tally?: { sent: number; answers: number };
  uid: string;
  type: BotType;
  stop: AbortSignal;
  intervalMs: number;
  window: number;
  onConnected?: () => void;
  /** First answer by the new node (measurement only). */
  onMoved?: () => void;
}

/** What both bots count. */
export interface StreamBotCounts extends MoveTimes {
  uid: string;
  type: BotType;
  connected: boolean;
  error: string | null;
  sent: number;
  answered: number;
  lost: number;
  duplicated: number;
  /** The node's user data counts every message this user sent. */
  userDataKept: boolean;
}

/** Client-side clock (performance.now()) of a move, for bench/migration's move time. */
export interface MoveTimes {
  /** The 'offline' event. */
  offlineAt: number | null;
  /** The first answer by the new node. */
  movedAt: number | null;
  lastOldAnswerAt: number | null;
  /** Migration path: the session's SID and its 'migrated' event in epoch ms (beside the nodes' phases). */
  sid?: string;
  migratedEpochMs?: number;
  /** Migration path: the client's reliable resends (stats().retransmits) at its 'offline' event and at its first new answer. */
  retransmitsAtOffline?: number;
  retransmitsAtMoved?: number;
}

/** The sequence number of a 2/4 request. */
export function seqBody(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
