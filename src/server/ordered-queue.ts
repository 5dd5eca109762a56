/**
 * Runs the requests of one client strictly in arrival order, async handlers included. Synchronous
 * tasks run back to back without a microtask each (the fast path); a task that returns a promise
 * holds the queue until it settles.
 */
export type Task = () => void | Promise<void>;

export class OrderedQueue {
  private q: (Task | undefined)[] = [];
  private head = 0;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly onError: (err: unknown) => void) {}

  push(task: Task): void {
    if (this.closed) return;
    this.q.push(task);
    if (!this.running) this.run();
  }

  get pending(): number {
    return this.q.length - this.head;
  }

  /** Resolves when every task queued so far has finished (a migration waits on this). */
  idle(): Promise<void> {
    if (!this.running && this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops queued tasks; a running async task still finishes. */
  close(): void {
    this.closed = true;
    this.q = [];
    this.head = 0;
  }

  private run(): void {
    this.running = true;
    while (this.head < this.q.length) {
      const task = this.q[this.head];
      this.q[this.head++] = undefined;
      if (task === undefined) continue;
      let r: void | Promise<void>;
      try {
        r = task();
      } catch (err) {
        this.onError(err);
        continue;
      }
      if (r instanceof Promise) {
        r.then(
          () => this.run(),
          (err: unknown) => {
            this.onError(err);
            this.run();
          },
        );
        return;
      }
    }
    this.q.length = 0;
    this.head = 0;
    this.running = false;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
}
