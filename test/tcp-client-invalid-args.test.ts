// Invalid JS arguments throw synchronously with a DiarkisError code; nothing reaches the wire.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiarkisError, TcpClient, type DiarkisErrorCode, type Endpoint } from '../src/client';
import { loadNative } from '../src/native';
import { startBadServer, type BadServer } from './helpers/bad-server';

function codeOf(fn: () => unknown): DiarkisErrorCode | string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DiarkisError);
    return (e as DiarkisError).code;
  }
  return 'did not throw';
}

describe('TcpClient argument checks', () => {
  let server: BadServer;
  let client: TcpClient;
  beforeAll(async () => {
    server = await startBadServer(undefined, { kind: 'echo' });
    client = new TcpClient({ maxPayload: 1024 });
    await client.connect(server.endpoint);
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('send: ver, cmd and payload are checked', () => {
    expect(codeOf(() => client.send(-1, 1, Buffer.alloc(1)))).toBe('invalid-argument');
    expect(codeOf(() => client.send(256, 1))).toBe('invalid-argument');
    expect(codeOf(() => client.send(1.5, 1))).toBe('invalid-argument');
    expect(codeOf(() => client.send(2, 65536))).toBe('invalid-argument');
    expect(codeOf(() => client.send(2, Number.NaN))).toBe('invalid-argument');
    expect(codeOf(() => client.send('2' as unknown as number, 1))).toBe('invalid-argument');
    expect(codeOf(() => client.send(2, 1, 'text' as unknown as Uint8Array))).toBe('invalid-argument');
    expect(codeOf(() => client.send(2, 1, [1, 2] as unknown as Uint8Array))).toBe('invalid-argument');
    expect(codeOf(() => client.send(2, 1, new Uint16Array(2) as unknown as Uint8Array))).toBe('invalid-argument');
    expect(codeOf(() => client.send(2, 1, Buffer.alloc(1025)))).toBe('payload-too-large');
    // ver 0 and 1 are allowed (Diarkis modules use them)
    expect(client.send(0, 3, new Uint8Array(8))).toBe(true);
  });

  it('request checks its arguments synchronously too', () => {
    expect(codeOf(() => client.request(2, -5))).toBe('invalid-argument');
    expect(codeOf(() => client.request(2, 1, Buffer.alloc(1), { timeoutMs: -1 }))).toBe('invalid-argument');
    expect(codeOf(() => client.request(2, 1, Buffer.alloc(4096)))).toBe('payload-too-large');
  });

  it('options are checked when the client is created', () => {
    expect(codeOf(() => new TcpClient({ heartbeatIntervalMs: -1 }))).toBe('invalid-argument');
    expect(codeOf(() => new TcpClient({ maxPayload: Number.POSITIVE_INFINITY }))).toBe('invalid-argument');
    expect(codeOf(() => new TcpClient({ highWaterMark: 'big' as unknown as number }))).toBe('invalid-argument');
    expect(codeOf(() => new TcpClient({ migration: 'sometimes' as 'auto' }))).toBe('invalid-argument');
    expect(codeOf(() => new TcpClient(42 as unknown as object))).toBe('invalid-argument');
    expect(codeOf(() => new TcpClient({ io: 'uring' as 'loop' }))).toBe('invalid-argument');
  });

  it('DIARKIS_IO, the default driver, is checked too', () => {
    const saved = process.env.DIARKIS_IO;
    process.env.DIARKIS_IO = 'fibers';
    try {
      expect(codeOf(() => new TcpClient())).toBe('invalid-argument');
    } finally {
      if (saved === undefined) delete process.env.DIARKIS_IO;
      else process.env.DIARKIS_IO = saved;
    }
  });

  it('connect rejects a malformed endpoint', async () => {
    const bad: Array<Partial<Endpoint>> = [
      { ...server.endpoint, serverPort: 0 },
      { ...server.endpoint, serverPort: 70000 },
      { ...server.endpoint, sid: 'abc' },
      { ...server.endpoint, encryptionKey: 'zz'.repeat(16) },
      { ...server.endpoint, serverHost: '' },
    ];
    for (const ep of bad) {
      const err = (await new TcpClient().connect(ep as Endpoint).catch((e: unknown) => e)) as DiarkisError;
      expect(err.code).toBe('invalid-argument');
    }
  });

  it('a client connects once; sending before connect or after close is not-connected', async () => {
    const fresh = new TcpClient();
    expect(codeOf(() => fresh.send(2, 1))).toBe('not-connected');
    const err = (await client.connect(server.endpoint).catch((e: unknown) => e)) as DiarkisError;
    expect(err.code).toBe('invalid-argument');
    const other = new TcpClient();
    await other.connect(server.endpoint);
    await other.close();
    expect(codeOf(() => other.send(2, 1))).toBe('not-connected');
  });

  it('sendMigrate rejects: migration is not implemented yet', async () => {
    const err = (await client.sendMigrate().catch((e: unknown) => e)) as DiarkisError;
    expect(err.code).toBe('migration-failed');
  });

  it('the addon itself validates too (TypeError/RangeError with a code)', () => {
    const native = loadNative();
    const codeOfNative = (fn: () => unknown): [string, unknown] => {
      try {
        fn();
      } catch (e) {
        return [(e as Error).constructor.name, (e as { code?: unknown }).code];
      }
      return ['none', undefined];
    };
    expect(codeOfNative(() => native.send('x' as unknown as number, 2, 1, new Uint8Array(1)))).toEqual(['TypeError', 'invalid-argument']);
    expect(codeOfNative(() => native.send(1, 300, 1, new Uint8Array(1)))).toEqual(['RangeError', 'invalid-argument']);
    expect(codeOfNative(() => native.send(1, 2, 1, {} as Uint8Array))).toEqual(['TypeError', 'invalid-argument']);
    expect(codeOfNative(() => native.send(987654, 2, 1, new Uint8Array(1)))).toEqual(['Error', 'not-connected']);
    // What send()'s raw fast path refuses takes the checked path and its errors (issue 9).
    expect(codeOfNative(() => native.send(1, 2, 1.5, new Uint8Array(1)))).toEqual(['RangeError', 'invalid-argument']);
    expect(codeOfNative(() => native.send(-1, 2, 1, new Uint8Array(1)))).toEqual(['RangeError', 'invalid-argument']);
    expect(codeOfNative(() => native.send(1, 2, 1, new Int8Array(1) as unknown as Uint8Array))).toEqual(['TypeError', 'invalid-argument']);
    expect(codeOfNative(() => native.send(1, 2, 1, new Uint8Array(1), 'yes' as unknown as boolean))).toEqual(['TypeError', 'invalid-argument']);
    expect(codeOfNative(() => native.send(987654, 2, 1, new Uint8Array(1), undefined))).toEqual(['Error', 'not-connected']);
    expect(codeOfNative(() => native.create({ maxPayload: -3 }))).toEqual(['RangeError', 'invalid-argument']);
    expect(codeOfNative(() => native.create('x' as unknown as object))).toEqual(['TypeError', 'invalid-argument']);
    expect(codeOfNative(() => native.create({ io: 'uring' as 'loop' }))).toEqual(['TypeError', 'invalid-argument']);
    expect(codeOfNative(() => native.setEventHandler(() => undefined))).toEqual(['TypeError', 'invalid-argument']);
    // The migration options share one parser (client_factory.h): the same checks on both transports.
    for (const create of [(o: object) => native.create(o), (o: object) => native.createUdp(o)]) {
      expect(codeOfNative(() => create({ autoMigrate: 'yes' }))).toEqual(['TypeError', 'invalid-argument']);
      expect(codeOfNative(() => create({ migrateRetryMinMs: 50, migrateRetryMaxMs: 10 }))).toEqual(['RangeError', 'invalid-argument']);
      expect(codeOfNative(() => create({ handoffTtlMs: 0 }))).toEqual(['RangeError', 'invalid-argument']);
      expect(codeOfNative(() => create({ lingerMs: -1 }))).toEqual(['RangeError', 'invalid-argument']);
    }
    const id = native.create();
    expect(
      codeOfNative(() => native.connect(id, '127.0.0.1', 1, { sid: 'nothex', key: '', iv: '', macKey: '', encrypted: false })),
    ).toEqual(['RangeError', 'invalid-argument']);
    expect(
      codeOfNative(() => native.connect(id, 'not-an-ip', 1, { sid: '00'.repeat(16), key: '', iv: '', macKey: '', encrypted: false })),
    ).toEqual(['TypeError', 'invalid-argument']);
    native.release(id);
    native.release(id);  // idempotent
  });
});
