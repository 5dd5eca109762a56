// Runs the engine programs against the reference cluster started by the CLI
// (`diarkis-node cluster`): each program gets an endpoint from the entry server,
// and when it prints `AWAIT-OFFLINE <port>` the node on that port is taken
// offline through the admin endpoint (`AWAIT-OFFLINE-ALL <port>`: every node of
// its type), and back online once the program is done. A run whose name ends in
// `rooms` gets two endpoints (two users) on one node, its 6 fields twice.
//
//   node test/engines/run.mjs <name> <tcp|udp> <manual|auto> -- <command...>
//   (several runs: repeat the group, separated by `;;`)
// Exits non-zero when a program fails, prints no PASS, or takes over 60 s.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROGRAM_TIMEOUT_MS = 60_000;

function parseRuns(argv) {
  const runs = [];
  let cur = [];
  for (const a of [...argv, ';;']) {
    if (a !== ';;') {
      cur.push(a);
      continue;
    }
    if (cur.length === 0) continue;
    const sep = cur.indexOf('--');
    if (sep !== 3 || cur.length < 5) throw new Error(`bad run: ${cur.join(' ')}`);
    runs.push({ name: cur[0], transport: cur[1], mode: cur[2], command: cur.slice(4) });
    cur = [];
  }
  return runs;
}

function startCluster() {
  const child = spawn(process.execPath, [path.join(root, 'dist/src/cli/main.js'), 'cluster', '--tcp', '2', '--udp', '2',
    '--shutdown-timeout', '30000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const urls = {};
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const m = /^(entry|admin) (http\S+)$/.exec(line);
      if (m) urls[m[1]] = m[2];
      if (urls.entry && urls.admin && !urls.done) {
        urls.done = true;
        resolve({ child, entry: urls.entry, admin: urls.admin });
      }
    });
    child.on('exit', (code) => reject(new Error(`cluster exited early (${code})`)));
  });
}

async function json(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Sets the node on `port` (all nodes of its type when `all`) to `state`; returns their ids. */
async function setNodeState(admin, port, state, all = false) {
  const nodes = await json(`${admin}/admin/nodes`);
  // A node listens on its main port and, in the embedded cluster, on extra ports (`ports`).
  const node = nodes.find((n) => n.port === port || (n.ports ?? []).includes(port));
  if (!node) throw new Error(`no node on port ${port}`);
  const ids = all ? nodes.filter((n) => n.type === node.type).map((n) => n.id) : [node.id];
  await setStates(admin, ids, state);
  return ids;
}

async function setStates(admin, ids, state) {
  for (const id of ids) {
    await json(`${admin}/admin/nodes/${encodeURIComponent(id)}/state`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ state }),
    });
  }
}

/** Endpoints for `count` users; with more than one, all on one node (the others of its type TAKEN meanwhile). */
async function endpoints(cluster, type, user, count) {
  const url = (i) => `${cluster.entry}/endpoint/type/${type}/user/${user}-${i}`;
  if (count === 1) return [await json(url(0))];
  const nodes = (await json(`${cluster.admin}/admin/nodes`)).filter((n) => n.type === type && n.state === 'online');
  if (nodes.length === 0) throw new Error(`no online ${type} node`);
  const others = nodes.slice(1).map((n) => n.id);
  await setStates(cluster.admin, others, 'taken');
  try {
    const eps = [];
    for (let i = 0; i < count; i++) eps.push(await json(url(i)));
    return eps;
  } finally {
    await setStates(cluster.admin, others, 'online');
  }
}

async function runOne(cluster, run, index) {
  const type = run.transport.toUpperCase();
  const eps = await endpoints(cluster, type, `engines-${run.name}-${index}-${Date.now()}`, run.name.endsWith('rooms') ? 2 : 1);
  const args = [...run.command.slice(1), run.transport, run.mode];
  for (const ep of eps) {
    args.push(ep.serverHost, String(ep.serverPort), ep.sid, ep.encryptionKey, ep.encryptionIV, ep.encryptionMacKey);
  }
  const started = Date.now();
  const child = spawn(run.command[0], args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let passed = false;
  const offline = new Set();  // node ids to bring back online afterwards
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    console.log(`  [${run.name} ${run.transport}] ${line}`);
    const m = /^AWAIT-OFFLINE(-ALL)? (\d+)$/.exec(line);
    if (m) {
      setNodeState(cluster.admin, Number(m[2]), 'offline', m[1] !== undefined)
        .then((ids) => ids.forEach((id) => offline.add(id)))
        .catch((err) => {
          console.error(`offline failed: ${err.message}`);
          child.kill('SIGKILL');
        });
    }
    if (line.startsWith('PASS')) passed = true;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), PROGRAM_TIMEOUT_MS);
  const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? sig)));
  clearTimeout(timer);
  await setStates(cluster.admin, [...offline], 'online');
  const ok = code === 0 && passed;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${run.name} ${run.transport} ${run.mode} (${Date.now() - started} ms, exit ${code})`);
  return ok;
}

const runs = parseRuns(process.argv.slice(2));
const cluster = await startCluster();
let failed = 0;
try {
  for (const [i, run] of runs.entries()) {
    if (!(await runOne(cluster, run, i))) failed++;
  }
} finally {
  cluster.child.kill('SIGTERM');
}
console.log(failed === 0 ? `all ${runs.length} engine runs passed` : `${failed} of ${runs.length} engine runs failed`);
process.exit(failed === 0 ? 0 : 1);
