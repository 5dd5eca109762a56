/**
 * A throwaway redis-server for tests: loopback only, a free port, no RDB snapshots, its own temp
 * directory (for the append-only file of the restart test). stop() kills it and waits for exit.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function freePort(): Promise<number> {
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
