export * from './address';
export * from './datagram';
export * from './fragment';
export * from './reliable';
export * from './echo';
export * from './server-session';
export * from './client-session';
