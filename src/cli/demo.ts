/**
 * `demo`: an embedded cluster and a few bots that stream sequenced requests and
 * receive a push stream, then a report that shows nothing was lost.
 */
import { SingleBar, Presets } from 'cli-progress';
import { startCluster } from '../server';
import { getEndpoint, TcpClient } from '../index';
import { printTable } from './table';

export interface DemoOptions {
  bots: number;
  durationMs: number;
  encryption: boolean;
  json: boolean;
}

export interface DemoReport {
  ok: boolean;
  clients: number;
  connected: number;
  sent: number;
  answered: number;
  gaps: number;
  dups: number;
  pushesExpected: number;
  pushesReceived: number;
  pushesOutOfOrder: number;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

interface BotResult {
  connected: boolean;
  sent: number;
  answered: number;
  gaps: number;
  dups: number;
  pushes: number;
  outOfOrder: number;
}

async function runBot(entryUrl: string, index: number, durationMs: number, pushCount: number): Promise<BotResult> {
  const result: BotResult = { connected: false, sent: 0, answered: 0, gaps: 0, dups: 0, pushes: 0, outOfOrder: 0 };
  const ep = await getEndpoint(entryUrl, { type: 'TCP', uid: `bot-${index}` });
  const client = new TcpClient();
  let lastPush = 0;
  client.on('push', (ver, cmd, payload) => {
    if (ver !== 2 || cmd !== 6 || payload.length !== 4) return;
    const n = payload.readUInt32BE(0);
    if (n !== lastPush + 1) result.outOfOrder++;
    lastPush = n;
    result.pushes++;
  });
  await client.connect(ep);
  result.connected = true;
  const pushIntervalMs = Math.max(10, Math.floor(durationMs / pushCount));
  await client.request(2, 6, Buffer.concat([u32(pushCount), u32(pushIntervalMs)]));
  const until = Date.now() + durationMs;
  let seq = 0;
  while (Date.now() < until) {
    seq++;
    result.sent++;
    const res = await client.request(2, 4, u32(seq), { timeoutMs: 10_000 });
    if (res.status === 1) result.answered++;
  }
  // let the push stream finish (bounded), then read the node's own view of the sequence
  const deadline = Date.now() + durationMs + 5_000;
  while (result.pushes < pushCount && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const data = await client.request(2, 5, Buffer.alloc(0));
  const user = JSON.parse(Buffer.from(data.payload).toString('utf8')) as { lastSeq?: number; gaps?: number; dups?: number };
  result.gaps = (user.gaps ?? 0) + Math.abs((user.lastSeq ?? 0) - seq);
  result.dups = user.dups ?? 0;
  await client.close();
  return result;
}

export async function runDemo(opts: DemoOptions): Promise<DemoReport> {
  const cluster = await startCluster({ tcpNodes: 1, encryption: opts.encryption });
  const log = (line: string): void => {
    if (!opts.json) console.log(line);
  };
  log(`cluster up: entry ${cluster.entryUrl}`);
  const pushCount = Math.max(1, Math.floor(opts.durationMs / 100));
  const bar = opts.json || !process.stdout.isTTY ? null : new SingleBar({ format: 'bots  {bar} {value}/{total}' }, Presets.shades_classic);
  bar?.start(opts.bots, 0);
  let done = 0;
  const results = await Promise.all(
    Array.from({ length: opts.bots }, (_, i) =>
      runBot(cluster.entryUrl, i, opts.durationMs, pushCount)
        .catch((err: unknown): BotResult => {
          if (!opts.json) console.error(`bot-${i}: ${err instanceof Error ? err.message : String(err)}`);
          return { connected: false, sent: 0, answered: 0, gaps: 0, dups: 0, pushes: 0, outOfOrder: 0 };
        })
        .finally(() => bar?.update(++done)),
    ),
  );
  bar?.stop();
  await cluster.stop();

  const sum = (f: (r: BotResult) => number): number => results.reduce((a, r) => a + f(r), 0);
  const report: DemoReport = {
    ok: false,
    clients: opts.bots,
    connected: results.filter((r) => r.connected).length,
    sent: sum((r) => r.sent),
    answered: sum((r) => r.answered),
    gaps: sum((r) => r.gaps),
    dups: sum((r) => r.dups),
    pushesExpected: pushCount * opts.bots,
    pushesReceived: sum((r) => r.pushes),
    pushesOutOfOrder: sum((r) => r.outOfOrder),
  };
  report.ok =
    report.connected === report.clients &&
    report.answered === report.sent &&
    report.gaps === 0 &&
    report.dups === 0 &&
    report.pushesReceived === report.pushesExpected &&
    report.pushesOutOfOrder === 0;
  if (opts.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    printTable(
      ['clients', 'connected', 'sent', 'answered', 'gaps', 'dups', 'pushes', 'out of order', 'result'],
      [[report.clients, report.connected, report.sent, report.answered, report.gaps, report.dups,
        `${report.pushesReceived}/${report.pushesExpected}`, report.pushesOutOfOrder, report.ok ? 'OK' : 'FAILED']],
    );
  }
  return report;
}
