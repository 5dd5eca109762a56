/** The client side: TcpClient, UdpClient, endpoint lookup, errors and types. */
export { TcpClient, type TcpClientOptions } from './tcp-client';
export { UdpClient, type UdpClientOptions } from './udp-client';
export { BaseClient } from './base-client';
export { Room, type RoomState, type RoomProps, type RoomEventMap, type RoomMigrationInfo, type RoomLeftReason } from './room';
export { pumpStats } from './dispatch';
export { getEndpoint, parseEndpoint, type GetEndpointOptions } from './endpoint';
export {
  DiarkisError, ERROR_CODES, isDiarkisErrorCode,
  type DiarkisErrorCode, type DiarkisErrorDetails, type DiarkisErrorDetailsMap, type DiarkisErrorOf,
} from './errors';
export type { AddonAttempt, AddonUnavailableDetails } from './addon-loader';
export type * from './types';
