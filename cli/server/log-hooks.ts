/**
 * What the server logs, as ServerHost hooks: connections at debug, sign-ups, logins and logouts
 * at info, error frames at debug (INTERNAL at warn). Never a password or a token: only usernames,
 * connection ids, addresses and error codes are picked out of frames (and the logger redacts
 * secret field names anyway).
 *
 * Hot path: these run for every effect. The level checks happen once, here, so a server at
 * log level warn pays one switch per effect and allocates nothing.
 */
import type { Logger } from 'pino';
import type { ServerHostHooks } from '../../core/server/host.ts';
import type { ConnId, ServerEffect } from '../../core/server/machine.ts';

export function createLogHooks(log: Logger): ServerHostHooks {
  const debug = log.isLevelEnabled('debug');
  const info = log.isLevelEnabled('info');
  const warn = log.isLevelEnabled('warn');
  /** Who is logged in on which connection, to name the user in logout lines. Only kept at info. */
  const userOf = new Map<ConnId, string>();

  const onEffect = (effect: ServerEffect): void => {
    switch (effect.type) {
      case 'send': {
        const frame = effect.frame;
        if (frame.type === 'login.ok') {
          if (!info) return;
          userOf.set(effect.connId, frame.username);
          log.info({ event: frame.resumed ? 'resume' : 'login', username: frame.username, connId: effect.connId }, frame.resumed ? 'session taken over' : 'logged in');
        } else if (frame.type === 'signup.ok') {
          // Sent only once the store took the account (a refused one is answered USERNAME_TAKEN).
          if (info) log.info({ event: 'signup', username: frame.username }, 'account created');
        } else if (frame.type === 'logout.ok') {
          if (!info) return;
          const username = userOf.get(effect.connId);
          userOf.delete(effect.connId);
          log.info({ event: 'logout', username, connId: effect.connId }, 'logged out');
        } else if (frame.type === 'error') {
          if (frame.code === 'HEARTBEAT_TIMEOUT' && info) {
            const username = userOf.get(effect.connId);
            userOf.delete(effect.connId);
            log.info({ event: 'logout', reason: 'ttl', username, connId: effect.connId }, 'logged out: no heartbeat within the TTL');
          } else if (frame.code === 'INTERNAL' && warn) {
            log.warn({ event: 'error', code: frame.code, connId: effect.connId, detail: frame.detail }, 'internal error');
          } else if (debug) {
            log.debug({ event: 'error', code: frame.code, connId: effect.connId, detail: frame.detail }, 'error frame sent');
          }
        }
        return;
      }
      case 'persist':
        return;
      case 'close':
        userOf.delete(effect.connId);
        if (debug) log.debug({ event: 'connection.closed', connId: effect.connId, by: 'server' }, 'connection closed');
        return;
      default:
        return;
    }
  };

  return {
    onEffect,
    onConnectionOpened: debug ? (connId, remoteAddress) => log.debug({ event: 'connection.opened', connId, remoteAddress }, 'connection opened') : undefined,
    onStoreRefused: (refusal, ops) => {
      if (warn) log.warn({ event: 'store.refused', reason: refusal.reason, ops: ops.length }, 'the store refused a batch (a key another node took first): nothing of it committed');
    },
    onConnectionClosed: (connId) => {
      userOf.delete(connId);
      if (debug) log.debug({ event: 'connection.closed', connId, by: 'peer' }, 'connection closed');
    },
  };
}
