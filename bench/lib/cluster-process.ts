/**
 * Runs the reference cluster in a child process, so that a benchmark's process.cpuUsage()
 * measures the client alone. The child prints one JSON line { entryUrl } when ready.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { startCluster } from '../../src/server';

export interface ClusterChild {
  entryUrl: string;
  stop(): Promise<void>;
}

export function startClusterChild(args: { tcpNodes?: number; udpNodes?: number; encryption?: boolean }): Promise<ClusterChild> {
  const child: ChildProcess = fork(__filename, ['--child', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`cluster child exited early (${String(code)})`)));
    child.on('message', (msg: { entryUrl?: string }) => {
      if (typeof msg.entryUrl !== 'string') return;
      resolve({
        entryUrl: msg.entryUrl,
        stop: () =>
          new Promise<void>((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.send('stop');
          }),
      });
    });
  });
}

async function childMain(): Promise<void> {
  const opts = JSON.parse(process.argv[3] ?? '{}') as { tcpNodes?: number; udpNodes?: number; encryption?: boolean };
  const cluster = await startCluster({ tcpNodes: opts.tcpNodes ?? 1, udpNodes: opts.udpNodes ?? 0, encryption: opts.encryption ?? true });
  process.on('message', (m) => {
    if (m === 'stop') void cluster.stop().then(() => process.exit(0));
  });
  process.send?.({ entryUrl: cluster.entryUrl });
}

if (require.main === module && process.argv[2] === '--child') void childMain();
