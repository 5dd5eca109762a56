/**
 * One measurement of the Node floor (lib/node-floor.ts), in its own process; prints one JSON
 * EchoSample line. `depth` requests in flight: each callback's answers are replaced by as many
 * new requests, written in one send() (as the real clients coalesce a turn's sends).
 *
 *   node node-floor-child.js <addon.node> <entryUrl> <depth> <messages> <uid>
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
  send(k: number): void;
  close(): void;
}

let onAnswers: (n: number) => void = () => undefined;

function run(floor: NodeFloorAddon, depth: number, messages: number): Promise<void> {
  return new Promise((resolve) => {
    let sent = Math.min(depth, messages);
    let answered = 0;
    onAnswers = (n) => {
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
  const [addonPath, entryUrl, depthArg, messagesArg, uid] = process.argv.slice(2) as [string, string, string, string, string];
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
  await run(floor, depth, Math.min(2000, messages));  // warm-up, as the other rows
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(floor, depth, messages);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  floor.close();
  const sample: EchoSample = { kind: 'node-floor', depth, clients: 1, messages, seconds, cpuUs: (cpu.user + cpu.system) / messages, eventsPerCrossing: Number.NaN };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
