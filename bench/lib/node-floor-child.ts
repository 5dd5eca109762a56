/**
 * One measurement of a Node floor (lib/node-floor.ts), in its own process; prints one JSON
 * EchoSample line. `depth` requests in flight: each callback's answers are replaced by as many
 * new requests, written in one send() (as the real clients coalesce a turn's sends).
 *
 *   node node-floor-child.js <addon.node> <entryUrl> <depth> <messages> <uid> <mode> <TCP|UDP> [warmup]
 *
 * mode: node-floor (write, poll, read, one JS call per read; UDP: with the RUDP bookkeeping the
 * server needs, prepared packets, answers compared byte for byte), crypto-floor (the same, plus
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
  RESPONSE_HEADER_SIZE,
  SessionCrypto,
  SID_SIZE,
  VER_BUILTIN,
  writeRequestHeader,
  writeResponseHeader,
} from '../../src/protocol';
import { fetchEndpoint } from '../../test/helpers/ts-tcp-client';
import type { EchoSample } from './tcp-echo-child';

/** What run() and runPromises() drive: k more requests, and the end. */
interface NodeFloorAddon {
  send(k: number): void;
  close(): void;
  /** UDP: [datagrams sent, datagrams received, wake-ups of the poll] so far. */
  datagrams?(): [number, number, number];
}

/** bench/node-floor/node_floor.c */
interface TcpFloorAddon extends NodeFloorAddon {
  open(host: string, port: number, first: Buffer, onAnswers: (n: number) => void): void;
  setPacket(packet: Buffer): void;
  setCrypto(key: Buffer, iv: Buffer, macKey: Buffer): void;
}

/** bench/node-floor/udp_node_floor.c (keys in hex); without setPacket, the crypto floor. */
interface UdpFloorAddon extends NodeFloorAddon {
  open(host: string, port: number, sid: string, key: string, iv: string, macKey: string, onAnswers: (n: number) => void): void;
  setPacket(request: Buffer, answer: Buffer): void;
}

let onAnswers: (n: number) => void = () => undefined;
/** Callbacks so far (the watchdog's measure of progress). */
let answersSeen = 0;

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
  if (messages <= 0) return Promise.resolve();  // no warm-up
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

type Mode = 'node-floor' | 'crypto-floor' | 'promise-floor';

/** Connects the floor, its first exchange done, ready for send(k). */
async function openFloor(addonPath: string, entryUrl: string, uid: string, mode: Mode, transport: string): Promise<NodeFloorAddon> {
  const ep = await fetchEndpoint(entryUrl, transport === 'UDP' ? 'UDP' : 'TCP', uid);
  const crypto = new SessionCrypto({ key: fromHex(ep.encryptionKey), iv: fromHex(ep.encryptionIV), macKey: fromHex(ep.encryptionMacKey) });
  const sid = fromHex(ep.sid);
  const encode = (ver: number, cmd: number, body: Uint8Array): Buffer => {
    const out = crypto.seal(body, REQUEST_HEADER_SIZE + SID_SIZE);
    writeRequestHeader(out, 0, ver, cmd, out.length - REQUEST_HEADER_SIZE);
    sid.copy(out, REQUEST_HEADER_SIZE);
    return out;
  };
  const echoBody = Buffer.alloc(64, 7);
  const cb = (n: number): void => {
    answersSeen++;
    onAnswers(n);
  };
  if (transport === 'UDP') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const floor = require(addonPath) as UdpFloorAddon;
    floor.open(ep.serverHost, ep.serverPort, ep.sid, ep.encryptionKey, ep.encryptionIV, ep.encryptionMacKey, cb);
    if (mode === 'node-floor') {
      // The server's answer to the prepared request, sealed as the node seals it (status 1, ok).
      const answer = crypto.seal(echoBody, RESPONSE_HEADER_SIZE);
      writeResponseHeader(answer, 0, 2, 1, 1, answer.length - RESPONSE_HEADER_SIZE);
      floor.setPacket(encode(2, 1, echoBody), answer);
    }
    return floor;
  }
  if (transport !== 'TCP') throw new Error(`unknown transport ${transport}`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const floor = require(addonPath) as TcpFloorAddon;
  // The first request is a heartbeat (PROTOCOL 3); then the echo request, the same bytes each time.
  floor.open(ep.serverHost, ep.serverPort, encode(VER_BUILTIN, BuiltinCmd.KeepAlive, encodeHeartbeat(Date.now())), cb);
  floor.setPacket(encode(2, 1, echoBody));
  if (mode !== 'node-floor') floor.setCrypto(fromHex(ep.encryptionKey), fromHex(ep.encryptionIV), fromHex(ep.encryptionMacKey));
  return floor;
}

/** Fails the run (rather than hanging) when no answer came for 5 s: a lost UDP request, say. */
function watchdog(): () => void {
  let seen = answersSeen;
  let idle = 0;
  const t = setInterval(() => {
    idle = answersSeen === seen ? idle + 1 : 0;
    seen = answersSeen;
    if (idle >= 5) throw new Error('timeout: no answer for 5 s (loss?)');
  }, 1000);
  return () => clearInterval(t);
}

async function main(): Promise<void> {
  const [addonPath, entryUrl, depthArg, messagesArg, uid, modeArg, transport, warmupArg] =
    process.argv.slice(2) as [string, string, string, string, string, string, string, string?];
  const mode = modeArg;
  if (mode !== 'node-floor' && mode !== 'crypto-floor' && mode !== 'promise-floor') throw new Error(`unknown mode ${mode}`);
  const depth = Number(depthArg);
  const messages = Number(messagesArg);
  const floor = await openFloor(addonPath, entryUrl, uid, mode, transport);
  const stop = watchdog();
  const go = mode === 'promise-floor' ? runPromises : run;
  // Warm-up, as the other rows (lib/tcp-echo-child.ts): an explicit one in two calls.
  if (warmupArg === undefined) {
    await go(floor, depth, Math.min(2000, messages));
  } else {
    await go(floor, depth, Math.ceil(Number(warmupArg) / 2));
    await go(floor, depth, Math.floor(Number(warmupArg) / 2));
  }
  const d0 = floor.datagrams?.() ?? [Number.NaN, Number.NaN, Number.NaN];
  const calls0 = answersSeen;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await go(floor, depth, messages);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const d1 = floor.datagrams?.() ?? [Number.NaN, Number.NaN, Number.NaN];
  const calls = answersSeen - calls0;
  stop();
  floor.close();
  const sample: EchoSample = { kind: mode, depth, clients: 1, messages, seconds, cpuUs: (cpu.user + cpu.system) / messages,
    eventsPerCrossing: messages / calls,  // answers per JS call
    ...(floor.datagrams ? { sentPerMessage: (d1[0] - d0[0]) / messages, receivedPerMessage: (d1[1] - d0[1]) / messages,
      wakeupsPerMessage: (d1[2] - d0[2]) / messages } : {}) };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);  // now: the floor's socket and the watchdog would keep the process alive
});
