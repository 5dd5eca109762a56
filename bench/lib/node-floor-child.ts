/**
 * One measurement of the Node floor (lib/node-floor.ts), in its own process; prints one JSON
 * EchoSample line. `depth` requests in flight: each callback's answers are replaced by as many
 * new requests, written in one send() (as the real clients coalesce a turn's sends).
 *
 *   node node-floor-child.js <addon.node> <entryUrl> <depth> <messages> <uid> [mode]
 *
 * mode: node-floor (write, poll, read, one JS call per read), crypto-floor (the same, plus
 * the C floor's OpenSSL seal per request and verify + decrypt per answer, in the addon), or
 * promise-floor (crypto-floor, plus what any promise-per-request API pays: a promise per request
 * made by `depth` lanes that await it in a loop, as bench/lib/tcp-echo-child.ts drives the clients;
 * a FIFO of resolvers resolved from the batch callback; the requests of a turn sent in one
 * addon call from a microtask, after the continuations).
 */
import {
  BuiltinCmd,
  encodeHeartbeat,
  fromHex,
  REQUEST_HEADER_SIZE,
  SessionCrypto,
  SID_SIZE,
  VER_BUILTIN,
  writeRequestHeader,
} from '../../src/protocol';
import { fetchEndpoint } from '../../test/helpers/ts-tcp-client';
import type { EchoSample } from './tcp-echo-child';

interface NodeFloorAddon {
  open(host: string, port: number, first: Buffer, onAnswers: (n: number) => void): void;
  setPacket(packet: Buffer): void;
  setCrypto(key: Buffer, iv: Buffer, macKey: Buffer): void;
  send(k: number): void;
  close(): void;
}

let onAnswers: (n: number) => void = () => undefined;

interface Answer { status: number }
const OK: Answer = { status: 1 };

/** The promise floor: `depth` lanes each awaiting one promise per request, as the bench's drive(). */
function runPromises(floor: NodeFloorAddon, depth: number, messages: number): Promise<void> {
  const resolvers: Array<(a: Answer) => void> = [];
  let head = 0;
  let unsent = 0;
  const flush = (): void => {
    const k = unsent;
    unsent = 0;
    floor.send(k);
  };
  const request = (): Promise<Answer> => {
    if (unsent++ === 0) queueMicrotask(flush);
    return new Promise<Answer>((resolve) => resolvers.push(resolve));
  };
  onAnswers = (n) => {
    if (n < 0) throw new Error('an answer failed its MAC or decryption');
    for (let i = 0; i < n; i++) (resolvers[head++] as (a: Answer) => void)(OK);
    if (head > 1024 && head * 2 > resolvers.length) {
      resolvers.splice(0, head);
      head = 0;
    }
  };
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < messages) {
      started++;
      const res = await request();
      if (res.status !== 1) throw new Error('bad status');
    }
  };
  const lanes: Promise<void>[] = [];
  for (let i = 0; i < depth; i++) lanes.push(lane());
  return Promise.all(lanes).then(() => undefined);
}

function run(floor: NodeFloorAddon, depth: number, messages: number): Promise<void> {
  return new Promise((resolve) => {
    let sent = Math.min(depth, messages);
    let answered = 0;
    onAnswers = (n) => {
      if (n < 0) throw new Error('an answer failed its MAC or decryption');
      answered += n;
      const more = Math.min(n, messages - sent);
      if (more > 0) {
        sent += more;
        floor.send(more);
      }
      if (answered >= messages) resolve();
    };
    floor.send(sent);
  });
}

async function main(): Promise<void> {
  const [addonPath, entryUrl, depthArg, messagesArg, uid, modeArg, warmupArg] =
    process.argv.slice(2) as [string, string, string, string, string, string?, string?];
  const mode = modeArg ?? 'node-floor';
  if (mode !== 'node-floor' && mode !== 'crypto-floor' && mode !== 'promise-floor') throw new Error(`unknown mode ${mode}`);
  const depth = Number(depthArg);
  const messages = Number(messagesArg);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const floor = require(addonPath) as NodeFloorAddon;
  const ep = await fetchEndpoint(entryUrl, 'TCP', uid);
  const crypto = new SessionCrypto({ key: fromHex(ep.encryptionKey), iv: fromHex(ep.encryptionIV), macKey: fromHex(ep.encryptionMacKey) });
  const sid = fromHex(ep.sid);
  const encode = (ver: number, cmd: number, body: Uint8Array): Buffer => {
    const out = crypto.seal(body, REQUEST_HEADER_SIZE + SID_SIZE);
    writeRequestHeader(out, 0, ver, cmd, out.length - REQUEST_HEADER_SIZE);
    sid.copy(out, REQUEST_HEADER_SIZE);
    return out;
  };
  // The first request is a heartbeat (PROTOCOL 3); then the echo request, the same bytes each time.
  floor.open(ep.serverHost, ep.serverPort, encode(VER_BUILTIN, BuiltinCmd.KeepAlive, encodeHeartbeat(Date.now())), (n) => onAnswers(n));
  floor.setPacket(encode(2, 1, Buffer.alloc(64, 7)));
  if (mode !== 'node-floor') {
    floor.setCrypto(fromHex(ep.encryptionKey), fromHex(ep.encryptionIV), fromHex(ep.encryptionMacKey));
  }
  const go = mode === 'promise-floor' ? runPromises : run;
  // Warm-up, as the other rows (lib/tcp-echo-child.ts): an explicit one in two calls.
  if (warmupArg === undefined) {
    await go(floor, depth, Math.min(2000, messages));
  } else {
    await go(floor, depth, Math.ceil(Number(warmupArg) / 2));
    await go(floor, depth, Math.floor(Number(warmupArg) / 2));
  }
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await go(floor, depth, messages);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  floor.close();
  const sample: EchoSample = { kind: mode, depth, clients: 1, messages, seconds, cpuUs: (cpu.user + cpu.system) / messages, eventsPerCrossing: Number.NaN };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
