/** `node-state` and `nodes`: talk to a running `cluster` through its admin endpoint. */
import { fetchNodes, postNodeState } from './admin';
import { nodeTable } from './cluster-command';

export async function runNodeState(adminUrl: string, id: string, state: string): Promise<void> {
  const r = await postNodeState(adminUrl, id, state);
  console.log(`node ${r.id} -> ${r.state}`);
}

export async function runNodes(adminUrl: string, json: boolean): Promise<void> {
  const nodes = await fetchNodes(adminUrl);
  console.log(json ? JSON.stringify(nodes, null, 2) : nodeTable(nodes));
}
