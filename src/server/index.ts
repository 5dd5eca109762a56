export { startCluster, Cluster } from './cluster';
export type { ClusterOptions } from './cluster';
export { MemoryStore } from './store';
export type { RoomInfo } from './rooms/rooms';
export { RedisStore } from './redis-store';
export type { RedisStoreOptions } from './redis-store';
export type { ClusterStore, SessionRecord, PushDelivery, HandoffRecord, ClaimResult, HandoffExpiry, SessionAdopter } from './store';
export { ManualClock, realClock } from './clock';
export type { Clock } from './clock';
export type { EndpointAnswer } from './entry';
export type { RealtimeNode } from './node';
export { CommandRouter, registerSampleCommands } from './commands';
export type {
  ClusterEvents,
  CommandContext,
  CommandHandler,
  HandlerResult,
  JsonObject,
  JsonValue,
  NodeInfo,
  NodeStats,
  NodeState,
  NodeType,
} from './types';
export { MIGRATION_PHASES, PhaseLog } from './migration-phases';
export type { OfflinePacing, OfflinePacingOptions } from './offline-pacer';
export type { MigrationPhase, MigrationPhaseEvent, PhaseBreakdown } from './migration-phases';
