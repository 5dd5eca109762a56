/**
 * diarkis-node: a native Node.js client for Diarkis-style realtime game servers,
 * and a reference cluster to test against.
 */
export {
  TcpClient,
  UdpClient,
  BaseClient,
  getEndpoint,
  parseEndpoint,
  DiarkisError,
  ERROR_CODES,
  isDiarkisErrorCode,
  pumpStats,
  Room,
} from './client';
export type * from './client';
export type { PumpStats } from './native';
export { startCluster } from './server';
export type * from './server';
