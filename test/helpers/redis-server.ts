/**
 * A throwaway redis-server for tests: loopback only, a free port, no RDB snapshots, its own temp
 * directory (for the append-only file of the restart test). stop() kills it and waits for exit.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free for TCP and for UDP on 127.0.0.1 (UDP nodes bind the number a test picks). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freeTcpPort();
    if (await udpFree(port)) return port;
  }
  throw new Error('no port free for both TCP and UDP in 50 tries');
}

export interface RedisServerOptions {
  appendonly?: boolean;
  /** Reuse a port (restart on the same address). */
  port?: number;
  /** Reuse a directory (restart with the same append-only file). */
  dir?: string;
  password?: string;
}

export class RedisServer {
  private exited: Promise<void>;

  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's process id (benchmarks read its CPU time). */
  get pid(): number {
    return this.proc.pid ?? 0;
  }

  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const port = opts.port ?? (await freePort());
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'diarkis-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir];
    args.push('--appendonly', opts.appendonly === true ? 'yes' : 'no');
    if (opts.password !== undefined) args.push('--requirepass', opts.password);
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new RedisServer(proc, port, dir, opts.dir === undefined);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      proc.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${String(code)}):\n${out}`));
      });
    });
    return server;
  }

  /** SIGTERM (Redis flushes its append-only file on the way out), then waits for the exit. */
  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    await this.exited;
    if (this.ownsDir && opts.keepDir !== true) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A CLI role (`entry` / `node`) as a child process; its stdout is JSON lines. */
export class RoleProcess {
  readonly events: Record<string, unknown>[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }[] = [];

  private constructor(readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout?.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let e: Record<string, unknown>;
        try {
          e = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(e)) return true;
          w.resolve(e);
          return false;
        });
      }
    });
    proc.stderr?.on('data', (c: Buffer) => {
      this.stderr += c.toString();
    });
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Spawns `node dist/src/cli/main.js <args>` (build first); resolves with the process at once. */
  static spawn(args: string[]): RoleProcess {
    return new RoleProcess(spawn(process.execPath, ['dist/src/cli/main.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** Spawns and waits for its `ready` line (rejects if it exits first). */
  static async start(args: string[]): Promise<{ p: RoleProcess; ready: Record<string, unknown> }> {
    const p = RoleProcess.spawn(args);
    const ready = await Promise.race([
      p.next('ready'),
      p.exited.then((x) => {
        throw new Error(`${args[0]} exited (${String(x.code)}) before ready:\n${p.stderr}`);
      }),
    ]);
    return { p, ready };
  }

  /** The next (or an earlier) event with this name. */
  next(event: string, pred: (e: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    const match = (e: Record<string, unknown>): boolean => e.event === event && pred(e);
    const seen = this.events.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ pred: match, resolve }));
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }

  /** Ends the process (SIGKILL if it lingers past `graceMs`) and waits for it. */
  async stop(graceMs = 5000): Promise<void> {
    this.kill('SIGTERM');
    const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
}

/** The CLI runs from dist/: compile (`npm run build:ts`) when a source (of `dirs`) is newer than it. */
export function ensureBuilt(dirs: string[] = ['src']): void {
  let built = 0;
  try {
    built = statSync('dist/src/cli/main.js').mtimeMs;
  } catch {
    built = 0;
  }
  if (built >= Math.max(...dirs.map(newestMtime))) return;
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
