// An ES module user of the installed tarball: named imports through the exports map, the
// same instances as require() (one module, one event dispatch table), TCP and UDP requests.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as diarkis from 'diarkis-node';
import { startCluster, getEndpoint, TcpClient, UdpClient, pumpStats } from 'diarkis-node';

const cjs = createRequire(import.meta.url)('diarkis-node');
for (const name of Object.keys(cjs)) assert.equal(diarkis[name], cjs[name], `ESM ${name} is the CommonJS one`);
assert.equal(TcpClient, cjs.TcpClient);

const cluster = await startCluster({ tcpNodes: 1, udpNodes: 1 });
try {
  const tcp = new TcpClient();
  const udp = new cjs.UdpClient();  // created through require(): events still arrive
  await tcp.connect(await getEndpoint(cluster.entryUrl, { type: 'TCP', uid: 'esm-tcp' }));
  await udp.connect(await getEndpoint(cluster.entryUrl, { type: 'UDP', uid: 'esm-udp' }));
  const [t, u] = await Promise.all([tcp.request(2, 2, Buffer.alloc(0)), udp.request(2, 1, Buffer.from('esm'))]);
  assert.equal(t.status, 1);
  assert.equal(t.payload.readUInt32BE(0), 1);
  assert.equal(u.payload.toString(), 'esm');
  assert.ok(pumpStats().events > 0);
  assert.ok(udp instanceof UdpClient);
  await Promise.all([tcp.close(), udp.close()]);
} finally {
  await cluster.stop();
}
console.log('esm: TCP and UDP requests answered, one module instance');
