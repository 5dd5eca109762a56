// A CommonJS user of the installed tarball (scripts/pack-test.sh): one TCP and one UDP
// request against the embedded cluster, then the package's boundaries.
'use strict';
const assert = require('node:assert/strict');
const { startCluster, getEndpoint, TcpClient, UdpClient, DiarkisError } = require('diarkis-node');

async function roundTrip(cluster, type, Client) {
  const ep = await getEndpoint(cluster.entryUrl, { type, uid: `cjs-${type}` });
  const client = new Client();
  await client.connect(ep);
  const res = await client.request(2, 1, Buffer.from(`hello ${type}`));
  assert.equal(res.status, 1);
  assert.equal(res.payload.toString(), `hello ${type}`);
  await client.close();
}

(async () => {
  const cluster = await startCluster({ tcpNodes: 1, udpNodes: 1 });
  try {
    await roundTrip(cluster, 'TCP', TcpClient);
    await roundTrip(cluster, 'UDP', UdpClient);
  } finally {
    await cluster.stop();
  }
  assert.equal(require('diarkis-node/package.json').name, 'diarkis-node');
  assert.throws(() => require('diarkis-node/dist/src/native.js'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  assert.equal(new DiarkisError('timeout').code, 'timeout');
  console.log('cjs: TCP and UDP requests answered');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
