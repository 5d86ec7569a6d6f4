/**
 * core/: the protocol, pure. No node: imports, no clock reads, no timers, no randomness, no I/O.
 * Machines take inputs with the time as an argument and return effects as data.
 */
export * from './codec.ts';
export * from './errors.ts';
export * from './frames.ts';
export * from './limits.ts';
export * from './store.ts';
export * from './transport.ts';
export * from './deadlines.ts';
export * from './rate-limit.ts';
export * from './tokens.ts';
export * from './server/accounts.ts';
export * from './server/machine.ts';
export * from './server/host.ts';
export * from './effect-pump.ts';
export * from './wakeup.ts';
export * as peer from './peer/index.ts';
