/**
 * udx-native echo pair for bench/udp-loss (an anchor beside the project, through the same proxy).
 * The server runs in a child process (as the project's node and the ENet server do); the client
 * sends `count` messages of `size` bytes (index u32, send time f64) on one udx stream at once and
 * times every echo. udx streams are NOT encrypted. Rendezvous through the proxy: the client's raw
 * "hello" datagram tells the server which address to connect its stream to.
 */
import { fork } from 'node:child_process';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const UDX = require('udx-native');

export interface EchoResult {
  totalMs: number;
  p50: number;
  p99: number;
  max: number;
  received: number;
  missing: number;
  dup: number;
  ooo: number;
}

let nextClientStream = 1;

export interface UdxServer {
  port: number;
  stop(): void;
}

export function startUdxEchoServer(): Promise<UdxServer> {
  const child = fork(__filename, ['--udx-server'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ port: m.port, stop: () => child.kill() }));
    child.once('exit', (code) => reject(new Error(`udx server exited (${code})`)));
  });
}

function serverMain(): void {
  const udx = new UDX();
  const socket = udx.createSocket();
  socket.bind(0, '127.0.0.1');
  // One stream per client address (each run comes through a new proxy socket): hello:<client id>.
  const streams = new Map<string, number>();
  let nextId = 1_000_000;
  socket.on('message', (msg: Buffer, from: { host: string; port: number }) => {
    const m = /^hello:(\d+)$/.exec(msg.toString());
    if (m === null) return;
    const key = `${from.host}:${from.port}`;
    let id = streams.get(key);
    if (id === undefined) {
      id = nextId++;
      const s = udx.createStream(id);
      s.on('data', (d: Buffer) => s.write(d));
      s.on('error', () => s.destroy());
      s.connect(socket, Number(m[1]), from.port, from.host);
      streams.set(key, id);
    }
    socket.trySend(Buffer.from(`ready:${id}`), from.port, from.host);
  });
  process.send?.({ port: socket.address().port });
}

/** One burst through `port` (the proxy in front of the server). */
export async function udxEchoClient(port: number, count: number, size: number): Promise<EchoResult> {
  const udx = new UDX();
  const socket = udx.createSocket();
  socket.bind(0, '127.0.0.1');
  const myId = nextClientStream++;
  let serverId = -1;
  socket.on('message', (msg: Buffer) => {
    const m = /^ready:(\d+)$/.exec(msg.toString());
    if (m !== null) serverId = Number(m[1]);
  });
  for (let i = 0; i < 150 && serverId < 0; i++) {
    socket.trySend(Buffer.from(`hello:${myId}`), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
  }
  if (serverId < 0) throw new Error('udx: no rendezvous');
  const stream = udx.createStream(myId);
  stream.on('error', () => undefined);  // the run's result says what arrived
  stream.connect(socket, serverId, port, '127.0.0.1');
  const lat: number[] = [];
  const seen = new Uint8Array(count);
  let dup = 0;
  let ooo = 0;
  let last = -1;
  let end = 0;
  const start = performance.now();
  const done = new Promise<void>((resolve) => {
    let pending: Buffer = Buffer.alloc(0);
    const timer = setTimeout(resolve, 120_000);
    stream.on('data', (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      while (pending.length >= size) {
        const i = pending.readUInt32LE(0);
        const t = pending.readDoubleLE(4);
        pending = pending.subarray(size);
        end = performance.now();
        if (i >= count) continue;
        if (seen[i] === 1) {
          dup++;
          continue;
        }
        if (i < last) ooo++;
        last = i;
        seen[i] = 1;
        lat.push(end - t);
      }
      if (lat.length === count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (let i = 0; i < count; i++) {
    const b = Buffer.alloc(size);
    b.writeUInt32LE(i, 0);
    b.writeDoubleLE(performance.now(), 4);
    stream.write(b);
  }
  await done;
  lat.sort((a, b) => a - b);
  const at = (p: number): number => (lat.length === 0 ? 0 : lat[Math.floor((lat.length - 1) * p)]);
  stream.destroy();
  await socket.close();
  return { totalMs: end - start, p50: at(0.5), p99: at(0.99), max: at(1), received: lat.length, missing: count - lat.length, dup, ooo };
}

if (process.argv.includes('--udx-server')) serverMain();
