/** core/peer/: the client side of the protocol, pure: the peer machine (composing the server link and the session broker) and the host that runs it, P2P frames, transfers, names. */
export * from './backoff.ts';
export * from './commands.ts';
export * from './events.ts';
export * from './file-names.ts';
export * from './frames.ts';
export * from './host.ts';
export * from './machine.ts';
export * from './server-link.ts';
export * from './session-broker.ts';
export * from './transfer.ts';
