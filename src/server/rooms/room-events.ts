/** The cluster events rooms follow (PROTOCOL 10): sessions bound and ended, handoffs expired, nodes offline. */
import type { ClusterEvents, EmitFn } from '../types';
import type { ClusterRooms } from './rooms';

/** Wraps `emit` so `rooms` sees the events it follows before the listeners do. */
export function emitWithRooms(rooms: ClusterRooms, emit: EmitFn): EmitFn {
  return (event, info) => {
    if (event === 'session-connect') rooms.sessionConnected(info as ClusterEvents['session-connect']);
    else if (event === 'session-close') rooms.sessionClosed(info as ClusterEvents['session-close']);
    else if (event === 'handoff-expired') rooms.handoffExpired(info as ClusterEvents['handoff-expired']);
    else if (event === 'node-state' && (info as ClusterEvents['node-state']).state === 'offline') {
      void rooms.nodeOffline((info as ClusterEvents['node-state']).nodeId).catch((error: unknown) => emit('store-error', { op: 'room-offline', error }));
    }
    emit(event, info);
  };
}
