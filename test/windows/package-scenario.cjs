// Run by Windows node.exe (renamed, under wine) from a fresh project that installed
// the packed tarball: the package's clients against a reference cluster started on
// Linux (scripts/windows/package-test.sh). Per transport and io driver: connect, a
// request, a push, the counter, the offline notice through the admin API, the
// automatic migration, the counter kept across the move, a graceful close.
//
//   game-launcher.exe package-scenario.cjs <entryUrl> <adminUrl> <resultFile>
//
// Results go to resultFile, one line per step, then PASS or FAIL: node.exe's stdout
// to a pipe fails under wine (EBADF).
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { getEndpoint, TcpClient, UdpClient } = require('diarkis-node');

const [entry, admin, resultFile] = process.argv.slice(2);
const STEP_MS = 20000;

function log(line) {
  fs.appendFileSync(resultFile, line + '\n');
}

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${STEP_MS} ms`)), STEP_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function once(client, event) {
  return new Promise((resolve) => client.once(event, (...args) => resolve(args)));
}

// node:http, not fetch: undici's fetch fails under wine ("fetch failed"), while the
// package's own endpoint client (node:http) works.
function json(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: HTTP ${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function setState(nodeId, state) {
  await json(`${admin}/admin/nodes/${encodeURIComponent(nodeId)}/state`, { state });
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

async function scenario(type, io) {
  const uid = `win-${type}-${io}-${Date.now()}`;
  const ep = await getEndpoint(entry, { type: type.toUpperCase(), uid });
  const client = type === 'tcp' ? new TcpClient({ io }) : new UdpClient({ io });
  await within(client.connect(ep), 'connect');

  const echo = await within(client.request(2, 1, Buffer.from('hello')), 'echo');
  check(echo.status === 1 && echo.payload.toString() === 'hello', 'echo answers hello');

  const pushed = once(client, 'push');
  await within(client.request(2, 3, Buffer.from('pp')), 'push-back');
  const [pver, pcmd, ppayload] = await within(pushed, 'push');
  check(pver === 2 && pcmd === 3 && ppayload.toString() === 'pp', 'push 2/3 carries pp');

  const first = await within(client.request(2, 2, Buffer.alloc(0)), 'counter');
  check(first.payload.readUInt32BE(0) === 1, 'counter 1');

  // The node goes offline: the client migrates by itself (migration: 'auto').
  const nodes = await json(`${admin}/admin/nodes`);
  const node = nodes.find((n) => n.port === ep.serverPort || (n.ports ?? []).includes(ep.serverPort));
  check(node !== undefined, `a node on port ${ep.serverPort}`);
  const offline = once(client, 'offline');
  const migrated = once(client, 'migrated');
  await setState(node.id, 'offline');
  try {
    await within(offline, 'offline notice');
    const [info] = await within(migrated, 'migration');
    check(info.from !== info.to, `moved ${info.from} -> ${info.to}`);
    const second = await within(client.request(2, 2, Buffer.alloc(0)), 'counter after the move');
    check(second.payload.readUInt32BE(0) === 2, 'counter 2 on the new node');
    await within(client.close(), 'close');
    log(`ok ${type} io=${io}: connect, echo, push, counter 1, offline, migrated ${info.from} -> ${info.to} in ${Math.round(info.tookMs)} ms, counter 2, closed`);
  } finally {
    await setState(node.id, 'online');
  }
}

async function main() {
  log(`process ${path.basename(process.execPath)} ${process.platform}-${process.arch} node ${process.version}`);
  const pkg = path.dirname(require.resolve('diarkis-node/package.json'));
  const prebuilds = path.join(pkg, 'prebuilds');
  log(`package prebuilds: ${fs.existsSync(prebuilds) ? fs.readdirSync(prebuilds).join(' ') : 'none'}`);
  for (const io of ['loop', 'thread']) {
    for (const type of ['tcp', 'udp']) await scenario(type, io);
  }
}

main().then(
  () => {
    log('PASS');
    process.exit(0);
  },
  (err) => {
    log(`FAIL ${err && err.stack ? err.stack : err}`);
    process.exit(1);
  },
);
