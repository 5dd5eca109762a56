// The CLI's argument errors, `cluster` with `node-state` through the admin endpoint, and
// `bots` against a cluster started here. Child processes run the compiled dist/ (npm run build:ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../src/cli/main';
import { botType, offlinePacing } from '../src/cli/options';
import { packageRoot } from '../src/native';
import { startCluster, type Cluster } from '../src/server';
import { killAfter, requireDist, runFixture, type Child } from './fixtures/spawn';

// runFixture resolves scripts against test/fixtures; the CLI is two levels up in dist/.
const CLI = '../../dist/src/cli/main.js';
const cli = (...args: string[]): Child => {
  const child = runFixture(CLI, args);
  killAfter(child, 50_000);  // safety net only: a hang fails the test with a kill
  return child;
};

async function fails(args: string[], message: string | RegExp): Promise<void> {
  const child = cli(...args);
  expect(await child.exited).toBe(1);
  expect(child.stderr()).toMatch(message);
}

beforeAll(() => requireDist());

describe('argument errors end with a message and exit code 1', () => {
  it('unknown flag', () => fails(['demo', '--bogus'], /unknown option '--bogus'/));
  it('unknown command', () => fails(['dmeo'], /unknown command 'dmeo'/));
  it('bad number', () => fails(['demo', '--bots', 'abc'], /--bots <n>' argument 'abc' is invalid\. must be a positive integer/));
  it('zero bots', () => fails(['demo', '--bots', '0'], /must be a positive integer/));
  it('bad duration', () => fails(['demo', '--duration', '-1'], /must be a positive number/));
  it('bad mix', () => fails(['demo', '--mix', 'tcp=50,quic=50'], /'quic=50' is not tcp=<n> or udp=<n>/));
  it('mix of zeros', () => fails(['demo', '--mix', 'tcp=0,udp=0'], /must not all be 0/));
  it('bad migration mode', () => fails(['demo', '--migration', 'later'], /must be 'auto' or 'manual'/));
  it('no bots at all', () => fails(['demo', '--tcp', '0', '--udp', '0'], /no bots/));
  it('unknown offline node', () => fails(['demo', '--bots', '2', '--offline', 'tcp-9', '--json'], /unknown node tcp-9/));
  it('bots without --entry', () => fails(['bots'], /required option '-e, --entry <url>' not specified/));
  it('bots with a bad type', () => fails(['bots', '--entry', 'http://127.0.0.1:1', '--type', 'sctp'], /must be 'tcp' or 'udp'/));
  it('node with a bad type', () => fails(['node', '--redis', 'redis://127.0.0.1:1', '--type', 'sctp'], /must be 'tcp' or 'udp'/));
  it('bots with a bad URL', () => fails(['bots', '--entry', 'nowhere'], /not a URL/));
  it('bad --offline-pacing', () => fails(['cluster', '--offline-pacing', '16/0'], /drainMs must be a positive number/));
  it('--offline-pacing: off, a window, or window/drainMs', () => {
    expect([offlinePacing('off'), offlinePacing('0'), offlinePacing('16'), offlinePacing('32/1500')]).toEqual([false, false, 16, { window: 32, drainMs: 1500 }]);
    for (const bad of ['', 'x', '-1', '16/', '16/x', '/100', '2.5']) expect(() => offlinePacing(bad), bad).toThrow();
  });
  it('node-state with a bad state', () => fails(['node-state', '--admin', 'http://127.0.0.1:1', 'tcp-1', 'gone'], /must be online, taken or offline/));
  it('node-state with an unreachable admin endpoint', () =>
    fails(['node-state', '--admin', 'http://127.0.0.1:1', 'tcp-1', 'offline'], /cannot reach the admin endpoint/));

  it('--help on every command exits 0', async () => {
    for (const cmd of ['demo', 'cluster', 'bots', 'node-state', 'nodes']) {
      const child = cli(cmd, '--help');
      expect(await child.exited).toBe(0);
      expect(child.stdout()).toContain(`Usage: diarkis-node ${cmd}`);
    }
  });
});

describe('one convention for --type, and --version', () => {
  it('--type takes either case on every subcommand that has it', () => {
    for (const [v, want] of [['tcp', 'TCP'], ['UDP', 'UDP'], ['Udp', 'UDP']] as const) expect(botType(v)).toBe(want);
    const types = buildProgram().commands
      .flatMap((c) => c.options.filter((o) => o.long === '--type').map((o) => ({ cmd: c.name(), o })));
    expect(types.map((t) => t.cmd).sort()).toEqual(['bots', 'node']);
    for (const { o } of types) expect(o.parseArg?.('udp', undefined)).toBe('UDP');
  });

  it('--version prints the package version and exits 0', async () => {
    const child = cli('--version');
    expect(await child.exited).toBe(0);
    expect(child.stdout().trim()).toBe(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version);
  });
});

describe('cluster + node-state through the admin endpoint', () => {
  it('changes a node state, lists nodes, refuses an unknown node, stops on SIGTERM', async () => {
    const cluster = cli('cluster', '--tcp', '2', '--udp', '1', '--shutdown-timeout', '30000');
    await cluster.waitFor('Ctrl-C');
    const admin = /^admin (\S+)$/m.exec(cluster.stdout())?.[1];
    expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cluster.stdout()).toMatch(/^entry http:\/\/127\.0\.0\.1:\d+$/m);
    expect(cluster.stdout()).toMatch(/tcp-2\s+TCP\s+127\.0\.0\.1\s+\d+\s+online/);

    const set = cli('node-state', '--admin', admin as string, 'tcp-1', 'offline');
    expect(await set.exited).toBe(0);
    expect(set.stdout()).toContain('node tcp-1 -> offline');
    await cluster.waitFor('node tcp-1 -> offline');

    const list = cli('nodes', '--admin', admin as string, '--json');
    expect(await list.exited).toBe(0);
    const nodes = JSON.parse(list.stdout()) as Array<{ id: string; state: string }>;
    expect(nodes.map((n) => `${n.id}:${n.state}`).sort()).toEqual(['tcp-1:offline', 'tcp-2:online', 'udp-1:online']);

    const unknown = cli('node-state', '--admin', admin as string, 'tcp-7', 'taken');
    expect(await unknown.exited).toBe(1);
    expect(unknown.stderr()).toContain('unknown node: tcp-7');

    cluster.proc.kill('SIGTERM');
    expect(await cluster.exited).toBe(0);
    expect(cluster.stdout()).toContain('stopped');
  });
});

describe('bots against a running cluster', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ tcpNodes: 1, udpNodes: 1, clientKeys: ['k1'] });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('reports every message answered, nothing lost, every push', async () => {
    const child = cli('bots', '--entry', cluster.entryUrl, '--tcp', '2', '--udp', '2', '--messages', '30', '--rate', '200',
      '--pushes', '5', '--client-key', 'k1', '--json');
    expect(await child.exited).toBe(0);
    const report = JSON.parse(child.stdout()) as { ok: boolean; total: Record<string, number>; byType: Record<string, { clients: number }> };
    expect(report.ok).toBe(true);
    expect(report.byType.TCP?.clients).toBe(2);
    expect(report.byType.UDP?.clients).toBe(2);
    expect(report.total).toMatchObject({ clients: 4, connected: 4, sent: 120, answered: 120, lost: 0, duplicated: 0, pushesExpected: 20, pushesReceived: 20 });
  });

  it('--rooms: bots in rooms broadcast; every room message arrives once', async () => {
    const child = cli('bots', '--entry', cluster.entryUrl, '--tcp', '2', '--udp', '2', '--messages', '20', '--rate', '100',
      '--pushes', '0', '--client-key', 'k1', '--rooms', '4', '--json');
    expect(await child.exited).toBe(0);
    const report = JSON.parse(child.stdout()) as { ok: boolean; rooms: Record<string, number> };
    expect(report.ok).toBe(true);
    expect(report.rooms).toMatchObject({ rooms: 1, kept: 1, lost: 0, duplicated: 0, outOfOrder: 0 });
    expect(report.rooms.received).toBe(report.rooms.expected);
    expect(report.rooms.expected).toBeGreaterThan(0);
  });

  it('fails with exit 1 and says why when the client key is refused', async () => {
    const child = cli('bots', '--entry', cluster.entryUrl, '--bots', '1', '--messages', '1', '--client-key', 'wrong', '--json');
    expect(await child.exited).toBe(1);
    const report = JSON.parse(child.stdout()) as { ok: boolean; problems: string[]; errors: string[] };
    expect(report.ok).toBe(false);
    expect(report.problems).toContain('1 bots did not connect');
    expect(report.errors[0]).toMatch(/unauthorized/);
  });
});
