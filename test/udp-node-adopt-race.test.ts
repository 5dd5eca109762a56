// Issue 12: a SYN for a session this UDP node does not hold yet makes it look the session up in the
// store; when the session is adopted meanwhile (a handoff's stream entry overtaking the lookup, on
// Redis), the SYN is answered at once, not left for the client's repeat (500 ms later).
import { afterEach, expect, it } from 'vitest';
import { randomSessionSecrets, toHex } from '../src/protocol';
import type { SessionRecord } from '../src/server/store';
import { startUdpNodeRig, TsUdpClient, type UdpNodeRig } from './helpers/ts-udp-client';

let rig: UdpNodeRig | null = null;
afterEach(async () => {
  await rig?.stop();
  rig = null;
});

it('answers a SYN whose session was adopted while its store lookup ran', async () => {
  const r = (rig = await startUdpNodeRig({ connectionTtlMs: 60_000 }));
  const s = randomSessionSecrets();
  const rec: SessionRecord = { uid: 'racer', sid: toHex(s.sid), nodeId: r.node.id, key: toHex(s.key), iv: toHex(s.iv), macKey: toHex(s.macKey), clientKey: '', data: {} };
  // In the store only: the node learns of the session from the lookup the SYN starts...
  await r.store.registerSession(rec);
  const lookup = r.store.lookupSession.bind(r.store);
  let lookups = 0;
  r.store.lookupSession = async (sid) => {
    lookups++;
    const found = await lookup(sid);
    // ... and, before that lookup answers, from another path (the stream entry).
    r.node.adoptSession(rec);
    return found;
  };
  // One SYN only: a swallowed SYN fails the connect.
  const client = await TsUdpClient.connect(
    { serverType: 'UDP', serverHost: r.node.host, serverPort: r.node.port, sid: rec.sid, encryptionKey: rec.key, encryptionIV: rec.iv, encryptionMacKey: rec.macKey },
    { synIntervalMs: 60_000, connectTimeoutMs: 3000 },
  );
  expect(lookups).toBe(1);
  expect((await client.request(2, 1, Buffer.from('after'))).payload.toString()).toBe('after');
  await client.close();
});
