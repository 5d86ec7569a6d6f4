/** core/peer/: the client side of the protocol, pure: the peer machine and the host that runs it, P2P frames, transfers, names. */
export * from './backoff.ts';
export * from './commands.ts';
export * from './events.ts';
export * from './file-names.ts';
export * from './frames.ts';
export * from './host.ts';
export * from './machine.ts';
export * from './transfer.ts';
