/**
 * A cluster of separate processes on Redis, as an operator runs it: one redis-server (shared by
 * every run, each run under its own key prefix), one `diarkis-node entry` process and one
 * `diarkis-node node` process per node. Nodes write their migration phases to a file at exit
 * (--log-phases); phases() reads them once the nodes are gone. `offline(id)` sends SIGTERM: the
 * node goes OFFLINE and its clients move.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { NodeDiag } from '../../src/cli/node-diag';
import type { MigrationPhaseEvent } from '../../src/server';

/** The CLI, compiled (this file runs from dist/bench/lib or dist/test/helpers' sibling). */
export const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

export interface ProcessClusterOptions {
  redisUrl: string;
  /** Key prefix of this cluster in Redis (one per run). */
  prefix: string;
  /** Extra node.js flags for the node processes (e.g. --cpu-prof --cpu-prof-dir=...). */
  nodeFlags?: string[];
  shutdownTimeoutMs?: number;
  /** Each node's --extra-ports (UDP sockets / TCP listeners beside the main port). */
  extraPorts?: number;
  /** Each node's --offline-pacing (a window, or false = off; default: the node's, on). */
  offlinePacing?: number | false | { window: number; drainMs: number };
  /** Another tree's compiled CLI (A/B against a baseline build); default: this tree's. */
  cli?: string;
  /** Each node writes its loop stalls and RUDP resend counters at exit (--log-diag; diags()). */
  diag?: boolean;
}

export interface NodeProcess {
  id: string;
  type: 'TCP' | 'UDP';
  port: number;
  proc: ChildProcess;
  exited: Promise<void>;
}

type Line = Record<string, unknown> & { event?: string };

/** Spawns `node <flags> main.js <args>`; resolves with the first 'ready' line. */
function spawnCli(flags: string[], args: string[], onLine: (l: Line) => void, cli = CLI): Promise<{ proc: ChildProcess; ready: Line; exited: Promise<void> }> {
  const proc = spawn(process.execPath, [...flags, cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const early = (): void => reject(new Error(`${args[0] ?? 'cli'} exited before ready`));
    void exited.then(early);
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (text) => {
      let l: Line;
      try {
        l = JSON.parse(text) as Line;
      } catch {
        return;
      }
      if (l.event === 'ready') resolve({ proc, ready: l, exited });
      else onLine(l);
    });
  });
}

export class ProcessCluster {
  readonly nodes = new Map<string, NodeProcess>();
  private entry: { proc: ChildProcess; exited: Promise<void> } | null = null;
  entryUrl = '';

  private readonly phaseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diarkis-phases-'));

  private constructor(private readonly opts: ProcessClusterOptions) {}

  /** Every node's migration phases; complete once the nodes have exited (after stop()). */
  phases(): MigrationPhaseEvent[] {
    const out: MigrationPhaseEvent[] = [];
    for (const f of fs.readdirSync(this.phaseDir).filter((x) => x.endsWith('.jsonl'))) {
      for (const line of fs.readFileSync(path.join(this.phaseDir, f), 'utf8').split('\n')) if (line !== '') out.push(JSON.parse(line) as MigrationPhaseEvent);
    }
    return out;
  }

  /** Each node's --log-diag record by node id (after stop(); empty without the `diag` option). */
  diags(): Record<string, NodeDiag> {
    const out: Record<string, NodeDiag> = {};
    for (const f of fs.readdirSync(this.phaseDir).filter((x) => x.endsWith('.diag.json'))) out[f.slice(0, -'.diag.json'.length)] = JSON.parse(fs.readFileSync(path.join(this.phaseDir, f), 'utf8')) as NodeDiag;
    return out;
  }

  static async start(opts: ProcessClusterOptions): Promise<ProcessCluster> {
    const c = new ProcessCluster(opts);
    const e = await spawnCli(opts.nodeFlags ?? [], ['entry', '--port', '0', '--redis', opts.redisUrl, '--prefix', opts.prefix], () => undefined, opts.cli);
    c.entry = e;
    c.entryUrl = String(e.ready.url);
    return c;
  }

  async startNode(type: 'TCP' | 'UDP', id: string): Promise<NodeProcess> {
    const args = ['node', '--type', type, '--id', id, '--redis', this.opts.redisUrl, '--prefix', this.opts.prefix, '--log-phases', path.join(this.phaseDir, `${id}.jsonl`)];
    if (this.opts.diag === true) args.push('--log-diag', path.join(this.phaseDir, `${id}.diag.json`));
    args.push('--shutdown-timeout', String(this.opts.shutdownTimeoutMs ?? 300_000));
    if (this.opts.extraPorts !== undefined) args.push('--extra-ports', String(this.opts.extraPorts));
    if (this.opts.offlinePacing !== undefined) {
      const p = this.opts.offlinePacing;
      args.push('--offline-pacing', p === false ? 'off' : typeof p === 'number' ? String(p) : `${p.window}/${p.drainMs}`);
    }
    const s = await spawnCli(this.opts.nodeFlags ?? [], args, () => undefined, this.opts.cli);
    const n: NodeProcess = { id, type, port: Number(s.ready.port), proc: s.proc, exited: s.exited };
    this.nodes.set(id, n);
    return n;
  }

  /** SIGTERM: the node goes OFFLINE (clients told, paced by default), exits once its sessions are gone. */
  offline(id: string): void {
    this.nodes.get(id)?.proc.kill('SIGTERM');
  }

  get entryPid(): number {
    return this.entry?.proc.pid ?? 0;
  }

  pids(): number[] {
    return [...this.nodes.values()].map((n) => n.proc.pid ?? 0);
  }

  /** SIGTERM to everything; SIGKILL after graceMs. */
  async stop(graceMs = 15_000): Promise<void> {
    const all = [...[...this.nodes.values()].map((n) => ({ proc: n.proc, exited: n.exited })), ...(this.entry === null ? [] : [this.entry])];
    for (const p of all) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const p of all) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    }, graceMs);
    await Promise.all(all.map((p) => p.exited));
    clearTimeout(timer);
  }

  /** Removes the phase files (after phases() was read). */
  cleanup(): void {
    fs.rmSync(this.phaseDir, { recursive: true, force: true });
  }
}
