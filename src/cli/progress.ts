/**
 * Progress bars on stderr (stdout stays clean for --json and the report). On a terminal they
 * are cli-progress bars; otherwise (pipes, CI, tests) one summary line per phase, or nothing
 * when quiet.
 */
import { Presets, SingleBar } from 'cli-progress';

export interface Phase {
  increment(): void;
  /** Raises the total (e.g. when more bots learn that their node went offline). */
  setTotal(total: number): void;
  stop(): void;
}

export class Progress {
  private readonly tty: boolean;

  constructor(private readonly quiet: boolean) {
    this.tty = !quiet && process.stderr.isTTY === true;
  }

  phase(label: string, total: number): Phase {
    let value = 0;
    let max = total;
    let stopped = false;
    const bar = this.tty
      ? new SingleBar(
          { format: `${label.padEnd(10)} {bar} {value}/{total}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
          Presets.shades_classic,
        )
      : null;
    bar?.start(max, 0);
    return {
      increment: () => {
        if (stopped) return;
        value++;
        bar?.update(value);
      },
      setTotal: (t: number) => {
        if (stopped) return;
        max = t;
        bar?.setTotal(t);
      },
      stop: () => {
        if (stopped) return;
        stopped = true;
        if (bar !== null) bar.stop();
        else if (!this.quiet) process.stderr.write(`${label}: ${value}/${max}\n`);
      },
    };
  }

  /** A status line that does not break a bar (bars end before these are printed). */
  note(line: string): void {
    if (!this.quiet) process.stderr.write(`${line}\n`);
  }
}
