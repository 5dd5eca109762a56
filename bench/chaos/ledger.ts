/**
 * What became of every reliable message of the chaos run, by what ended the session that carried
 * it. A message is `delivered` when its answer came back carrying its own sequence number,
 * `handedBack` when a failed migration returned it to the application (details.unsent), and
 * otherwise `lost`. After a SIGKILL the client cannot know whether the node handled what was in
 * flight (the node's state died with it): those are reported apart, as `inFlightAtKill`.
 */
export type EndCause = 'sigterm' | 'sigkill' | 'run-end' | 'other';

export interface Outcome {
  sessions: number;
  delivered: number;
  handedBack: number;
  /** Sent, neither answered nor handed back, and the node was SIGKILLed: unknowable. */
  inFlightAtKill: number;
  /** Sent, neither answered nor handed back, with no SIGKILL to blame. */
  lost: number;
}

export interface LedgerTotals {
  byCause: Record<EndCause, Outcome>;
  /** Live migrations that completed, and those that failed (their requests handed back). */
  migrations: number;
  migrationFailures: number;
  /** Rejected requests by the code the application was given (what the client can know). */
  rejections: Record<string, number>;
  /** Answers whose sequence number was not the request's (out of order or doubled). */
  wrongAnswers: number;
  /** Node-side check at the end of the run (2/5): gaps and duplicates the node itself saw. */
  nodeGaps: number;
  nodeDups: number;
  /** Sessions whose node-side lastSeq differed from the last sequence the client had answered. */
  nodeMismatches: number;
}

const zero = (): Outcome => ({ sessions: 0, delivered: 0, handedBack: 0, inFlightAtKill: 0, lost: 0 });

export function emptyTotals(): LedgerTotals {
  return {
    byCause: { sigterm: zero(), sigkill: zero(), 'run-end': zero(), other: zero() },
    migrations: 0,
    migrationFailures: 0,
    rejections: {},
    wrongAnswers: 0,
    nodeGaps: 0,
    nodeDups: 0,
    nodeMismatches: 0,
  };
}

/** One session's messages: sequence number -> state. */
export class SessionLedger {
  private readonly open = new Set<number>();
  private delivered = 0;
  wrongAnswers = 0;

  sent(seq: number): void {
    this.open.add(seq);
  }

  answered(seq: number, answer: number): void {
    if (!this.open.delete(seq)) return;
    this.delivered++;
    if (answer !== seq) this.wrongAnswers++;
  }

  get inFlight(): number {
    return this.open.size;
  }

  /** The session is over: whatever is still open was handed back or is unaccounted for. */
  close(cause: EndCause, handedBack: readonly number[], into: LedgerTotals): void {
    const o = into.byCause[cause];
    o.sessions++;
    o.delivered += this.delivered;
    let back = 0;
    for (const seq of handedBack) if (this.open.delete(seq)) back++;
    o.handedBack += back;
    if (cause === 'sigkill') o.inFlightAtKill += this.open.size;
    else o.lost += this.open.size;
    into.wrongAnswers += this.wrongAnswers;
    this.open.clear();
  }
}

export function sum(t: LedgerTotals, f: keyof Outcome): number {
  return Object.values(t.byCause).reduce((a, o) => a + o[f], 0);
}
