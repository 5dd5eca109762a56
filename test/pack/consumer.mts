// A strict TypeScript (module: nodenext) user of the installed tarball: the README's example,
// typed errors, and lines that must not compile (so the types are not `any`).
import { DiarkisError, getEndpoint, startCluster, TcpClient, UdpClient, type Endpoint } from 'diarkis-node';

const cluster = await startCluster({ tcpNodes: 2, udpNodes: 2 });
const ep: Endpoint = await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'player-1', clientKey: 'k' });

const client = new UdpClient({ migration: 'manual' });
client.on('push', (ver: number, cmd: number, payload: Buffer) => console.log('push', ver, cmd, payload.length));
client.on('disconnect', (reason) => console.log('disconnected:', reason));
client.onOffline(async () => {
  try {
    const info = await client.sendMigrate();
    console.log('moved', info.from, '->', info.to, 'in', info.tookMs, 'ms');
  } catch (err) {
    if (err instanceof DiarkisError && err.code === 'migration-failed') {
      for (const r of err.details?.unsent ?? []) console.log('unsent', r.ver, r.cmd, r.payload.length);
    }
  }
});
await client.connect(ep);
client.rsend(2, 1, Buffer.from('reliable'));
const res = await client.request(2, 2, Buffer.alloc(0));
if (res.status !== 1 || res.payload.readUInt32BE(0) !== 1) throw new Error(`udp: unexpected answer ${res.status}`);
await client.close();

const tcp = new TcpClient();
await tcp.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'player-2' }));
const echo = await tcp.request(2, 1, Buffer.from('ts'));
if (echo.payload.toString() !== 'ts') throw new Error('tcp: echo differs');
await tcp.close();
await cluster.stop();

// Type checks only: never called.
export function mustNotCompile(err: unknown): number {
  if (err instanceof DiarkisError && err.code === 'addon-unavailable') return err.details.tried.length;
  // @ts-expect-error details is undefined unless the error rejected sendMigrate()
  if (err instanceof DiarkisError && err.code === 'timeout') return err.details.unsent.length;
  // @ts-expect-error not a migration mode
  new TcpClient({ migration: 'sometimes' });
  // @ts-expect-error ver is a number
  void tcp.request('2', 1, Buffer.alloc(0));
  return 0;
}
console.log('ts: TCP and UDP requests answered');
