/**
 * `cluster`: the embedded reference cluster in the foreground, with the admin endpoint, until
 * Ctrl-C or SIGTERM. Prints `entry <url>` and `admin <url>` first (scripts and tests read them),
 * then the node table, then one line per node state change or handoff.
 */
import { startCluster, type NodeInfo } from '../server';
import { startAdminServer } from './admin';
import { formatTable } from './table';

export interface ClusterCommandOptions {
  tcp: number;
  udp: number;
  host: string;
  encryption: boolean;
  shutdownTimeoutMs: number;
  /** OFFLINE notices: the window, or false for all at once (ClusterOptions.offlinePacing). */
  offlinePacing?: number | false | { window: number; drainMs: number };
  adminHost: string;
  adminPort: number;
  clientKeys: string[];
}

export function nodeTable(nodes: NodeInfo[]): string {
  return formatTable(
    ['id', 'type', 'host', 'port', 'state', 'users'],
    nodes.map((n) => [n.id, n.type, n.host, n.port, n.state, n.users]),
  );
}

/** Resolves once the cluster has stopped after a signal. */
export async function runClusterCommand(o: ClusterCommandOptions): Promise<void> {
  const cluster = await startCluster({
    tcpNodes: o.tcp,
    udpNodes: o.udp,
    host: o.host,
    encryption: o.encryption,
    shutdownTimeoutMs: o.shutdownTimeoutMs,
    ...(o.offlinePacing !== undefined ? { offlinePacing: o.offlinePacing } : {}),
    clientKeys: o.clientKeys.length > 0 ? o.clientKeys : undefined,
  });
  let admin;
  try {
    admin = await startAdminServer(cluster, o.adminHost, o.adminPort);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  console.log(`entry ${cluster.entryUrl}`);
  console.log(`admin ${admin.url}`);
  console.log(`encryption ${o.encryption ? 'on' : 'off'}, shutdown timeout ${o.shutdownTimeoutMs} ms`);
  console.log('');
  console.log(nodeTable(cluster.nodes));
  console.log('');
  console.log(`change a node: diarkis-node node-state --admin ${admin.url} <id> <online|taken|offline>`);
  console.log('Ctrl-C stops the cluster.');

  cluster.on('node-state', ({ nodeId, state }) => console.log(`node ${nodeId} -> ${state}`));
  cluster.on('handoff', ({ uid, from, to }) => console.log(`handoff ${uid}: ${from} -> ${to}`));
  cluster.on('handoff-expired', ({ uid, from, nodeId }) => console.log(`handoff expired ${uid}: ${from} -> ${nodeId} never claimed`));

  await new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      console.log(`${sig}: stopping`);
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await admin.close();
  await cluster.stop();
  console.log('stopped');
}
