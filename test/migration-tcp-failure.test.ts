// TcpClient migrations that cannot complete (PROTOCOL 7.8): the target is unreachable
// or refuses the claim. The client retries within its handoffTtlMs, then rejects
// with 'migration-failed' and hands back what it held; nothing is lost without a report.
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nativeAddon } from '../src/client/dispatch';
import { DiarkisError, getEndpoint, TcpClient, UdpClient, type MigrationFailureDetails } from '../src/client';
import {
  BuiltinCmd,
  decodeHeartbeat,
  encodeHeartbeatAnswer,
  encodeOfflineNotice,
  encodeResponse,
  isOpenError,
  randomSessionSecrets,
  SessionCrypto,
  SID_SIZE,
  Status,
  StreamReassembler,
  toHex,
  VER_BUILTIN,
} from '../src/protocol';
import { ManualClock, startCluster, type Cluster } from '../src/server';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/**
 * An old node that answers heartbeats, announces offline on demand and answers the
 * migrate request with `target` (which nobody serves) and a ticket, then half-closes.
 */
async function fakeOldNode(target: string, opts: { swallowCmd?: number; crashOnMigrate?: boolean } = {}): Promise<{ endpoint: Parameters<TcpClient['connect']>[0]; offline(): void; appRequests: number[] }> {
  const secrets = randomSessionSecrets();
  const crypto = new SessionCrypto({ key: secrets.key, iv: secrets.iv, macKey: secrets.macKey });
  const sockets = new Set<Socket>();
  const appRequests: number[] = [];
  const packet = (cmd: number, status: number, body: Uint8Array): Buffer => encodeResponse(VER_BUILTIN, cmd, status, crypto.seal(body));
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const re = StreamReassembler.forRequests();
    socket.on('data', (chunk: Buffer) => {
      re.feed(chunk);
      for (let r = re.next(); r.kind === 'ok'; r = re.next()) {
        const opened = crypto.open(r.packet.payload.subarray(SID_SIZE));
        if (isOpenError(opened)) continue;
        if (r.packet.ver === VER_BUILTIN && r.packet.cmd === BuiltinCmd.KeepAlive) {
          socket.write(packet(BuiltinCmd.KeepAlive, Status.Ok, encodeHeartbeatAnswer('online', decodeHeartbeat(opened) ?? 0)));
        } else if (r.packet.ver === VER_BUILTIN && r.packet.cmd === BuiltinCmd.Reconn) {
          // A node that dies before its migrate answer: what it did not answer stays unconfirmed.
          if (opts.crashOnMigrate === true) return void socket.destroy();
          const addr = Buffer.from(target, 'utf8');
          const len = Buffer.alloc(2);
          len.writeUInt16BE(addr.length, 0);
          socket.end(packet(BuiltinCmd.Reconn, Status.Ok, Buffer.concat([len, addr, Buffer.alloc(16, 7)])));
        } else {
          appRequests.push(r.packet.cmd);
          if (r.packet.cmd === opts.swallowCmd) continue;
          socket.write(encodeResponse(r.packet.ver, r.packet.cmd, Status.Ok, crypto.seal(opened)));
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  if (a === null || typeof a === 'string') throw new Error('no port');
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    endpoint: {
      serverType: 'TCP',
      serverHost: '127.0.0.1',
      serverPort: a.port,
      sid: toHex(secrets.sid),
      encryptionKey: toHex(secrets.key),
      encryptionIV: toHex(secrets.iv),
      encryptionMacKey: toHex(secrets.macKey),
    },
    offline: () => {
      for (const s of sockets) s.write(encodeResponse(VER_BUILTIN, BuiltinCmd.KeepAlive, Status.Push, crypto.seal(encodeOfflineNotice())));
    },
    appRequests,
  };
}

function client(options: ConstructorParameters<typeof TcpClient>[0]): TcpClient {
  const c = new TcpClient({ migrateRetryMinMs: 20, migrateRetryMaxMs: 100, ...options });
  cleanups.push(() => c.destroy());
  return c;
}

async function failure(p: Promise<unknown>): Promise<DiarkisError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DiarkisError);
  return e as DiarkisError;
}

describe('TcpClient migration failures', () => {
  it("target unreachable: retries within handoffTtlMs, then 'migration-failed' with the held requests handed back", async () => {
    const node = await fakeOldNode(`127.0.0.1:${await closedPort()}`);
    const c = client({ migration: 'manual', handoffTtlMs: 600 });
    await c.connect(node.endpoint);
    expect((await c.request(2, 1, Buffer.from('before'))).status).toBe(1);
    const offline = new Promise<void>((r) => c.onOffline(r));
    node.offline();
    await offline;
    const reasons: string[] = [];
    c.on('disconnect', (code) => reasons.push(code));
    const mig = c.sendMigrate();
    expect(c.state).toBe('migrating');
    c.send(2, 7, Buffer.from('one'));
    // Held: its 100 ms timeout does not run while the migration retries for 600 ms.
    const req = c.request(2, 8, Buffer.from('two'), { timeoutMs: 100 });
    const err = await failure(mig);
    expect(err.code).toBe('migration-failed');
    expect(err.message).toContain('127.0.0.1:');
    const details = err.details as MigrationFailureDetails;
    expect(details.unsent.map((u) => [u.ver, u.cmd, u.payload.toString()])).toEqual([
      [2, 7, 'one'],
      [2, 8, 'two'],
    ]);
    expect(details.unconfirmed).toEqual([]);
    expect((await failure(req)).code).toBe('migration-failed');
    expect(reasons).toEqual(['migration-failed']);
    expect(c.state).toBe('closed');
    expect(node.appRequests).toEqual([1]);  // the held ones never reached the old node
  });

  it("claim refused (the handoff expired at the target): retries, then 'migration-failed'", async () => {
    const clock = new ManualClock();
    const cl: Cluster = await startCluster({ tcpNodes: 2, udpNodes: 0, clock, handoffTtlMs: 1000, shutdownTimeoutMs: 600_000 });
    cleanups.push(() => cl.stop());
    const refusals: string[] = [];
    cl.on('refused', (e) => refusals.push(e.reason));
    // The pending session expires before the client can claim it.
    cl.on('handoff', () => setImmediate(() => clock.advance(2000)));
    const ep = await getEndpoint(cl.entryUrl, { type: 'TCP', uid: 'expired' });
    const c = client({ migration: 'manual', handoffTtlMs: 500 });
    await c.connect(ep);
    const node = cl.nodes.find((n) => n.port === ep.serverPort);
    if (node === undefined) throw new Error('no node');
    const offline = new Promise<void>((r) => c.onOffline(r));
    await cl.setNodeState(node.id, 'offline');
    await offline;
    const mig = c.sendMigrate();
    c.send(2, 4, Buffer.from([0, 0, 0, 1]));
    const err = await failure(mig);
    expect(err.code).toBe('migration-failed');
    expect((err.details as MigrationFailureDetails).unsent.map((u) => u.cmd)).toEqual([4]);
    expect(refusals.length).toBeGreaterThanOrEqual(2);  // retried
    expect(refusals.every((r) => r.startsWith('claim:'))).toBe(true);
  });

  it('sendMigrate during a graceful close settles at once with not-connected, TCP and UDP', async () => {
    const c = await startCluster({ tcpNodes: 1, udpNodes: 1 });
    cleanups.push(() => c.stop());
    for (const type of ['TCP', 'UDP'] as const) {
      const k = type === 'TCP' ? client({ migration: 'manual' }) : new UdpClient({ migration: 'manual' });
      cleanups.push(() => k.destroy());
      await k.connect(await getEndpoint(c.entryUrl, { type, uid: `closing-${type}` }));
      const migrate = vi.spyOn(nativeAddon(), 'migrate');
      const closed = k.close();
      let settled: string | null = null;
      k.sendMigrate().then(
        () => (settled = 'resolved'),
        (e: DiarkisError) => (settled = e.code),
      );
      await Promise.resolve();
      await Promise.resolve();
      expect(settled).toBe('not-connected');
      // Never asked of the native client, where the check would race the queued close.
      expect(migrate).not.toHaveBeenCalled();
      migrate.mockRestore();
      await closed;
      expect(k.state).toBe('closed');
    }
  });

  it('the old node dies before its migrate answer: details.unconfirmed lists what it got and never answered', async () => {
    const node = await fakeOldNode('127.0.0.1:1', { swallowCmd: 9, crashOnMigrate: true });
    const c = client({ migration: 'manual', handoffTtlMs: 600 });
    await c.connect(node.endpoint);
    expect((await c.request(2, 1, Buffer.from('answered'))).status).toBe(1);
    const lost = [c.request(2, 9, Buffer.from('first')), c.request(2, 9, Buffer.from('second'))];
    const offline = new Promise<void>((r) => c.onOffline(r));
    node.offline();
    await offline;
    const mig = c.sendMigrate();
    const held = c.request(2, 8, Buffer.from('held'));
    const err = await failure(mig);
    const details = err.details as MigrationFailureDetails;
    expect(details.unconfirmed.map((u) => [u.ver, u.cmd, u.payload.toString()])).toEqual([
      [2, 9, 'first'],
      [2, 9, 'second'],
    ]);
    expect(details.unsent.map((u) => [u.ver, u.cmd, u.payload.toString()])).toEqual([[2, 8, 'held']]);
    for (const p of [...lost, held]) expect((await failure(p)).code).toBe(err.code);
    expect(node.appRequests).toEqual([1, 9, 9]);
  });

  it('sendMigrate before connecting rejects with not-connected', async () => {
    const c = client({ migration: 'manual' });
    expect((await failure(c.sendMigrate())).code).toBe('not-connected');
  });
});
