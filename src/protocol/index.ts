export * from './constants';
export * from './ours';
export * from './codec';
export * from './crypto';
export * from './keepalive';
