/**
 * One XMPP load-generator process for the peers (ejabberd, Prosody): many clients of the
 * maintained `@xmpp/client` library (its own stream parser, STARTTLS, SASL and resource binding;
 * nothing XML is parsed here), driven over rpc.ts like bench/load-worker.ts. One process holds at
 * most SOCKETS_PER_WORKER_MAX clients (the fd limit is 20,000 per process), so the phase spreads
 * big loads over several.
 *
 *   node --import tsx bench/peers/xmpp-worker.ts   (with NODE_TLS_REJECT_UNAUTHORIZED=0: the
 *   peers run on loopback with the run's own self-signed certificate)
 */
import { pbkdf2 } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { client, xml } from '@xmpp/client';
import { SampleReservoir } from '../histogram.ts';
import { IntervalCounter } from '../interval-counts.ts';
import { inPool } from '../protocol-client.ts';
import { serveRpc } from '../rpc.ts';
import { PEER_XMPP_DOMAIN } from './peer-config.ts';

/** How long one login (connect, STARTTLS, SASL, bind) or one ping may take before it counts as failed. */
const REPLY_TIMEOUT_MS = 30_000;
/** SHA-1 output size: SCRAM-SHA-1's SaltedPassword is one PBKDF2 block. */
const SHA1_BYTES = 20;

/**
 * The SCRAM-SHA-1 mechanism @xmpp/client uses (the `sasl-scram-sha-1` package) derives Hi() with
 * one awaited WebCrypto HMAC per iteration: 10,000 promise round trips per Prosody login, so the
 * load generator, not the server, would bound the login rate. Hi() is PBKDF2-HMAC-SHA1 (RFC 5802,
 * section 2.2): node:crypto's native pbkdf2 gives the same bytes, on the thread pool.
 */
function useNativePbkdf2ForScram(): void {
  const require = createRequire(import.meta.url);
  const scramEntry = require.resolve('sasl-scram-sha-1');
  const bitops = require(scramEntry.replace(/index\.js$/, 'lib/bitops.js')) as { Hi: (text: string, salt: Uint8Array, iterations: number) => Promise<Uint8Array> };
  const derive = promisify(pbkdf2);
  bitops.Hi = async (text, salt, iterations) => new Uint8Array(await derive(text, salt, iterations, SHA1_BYTES, 'sha1'));
}
useNativePbkdf2ForScram();

/** Which SASL mechanism a client asks for: SCRAM-SHA-1 (the default scheme) or PLAIN (over TLS; cheap to check where passwords are stored plain). */
export type XmppMechanism = 'SCRAM-SHA-1' | 'PLAIN';

interface Target {
  readonly port: number;
  /** Source addresses to spread connections over (127.0.0.x). */
  readonly localAddresses: readonly string[];
  readonly password: string;
  readonly mechanism: XmppMechanism;
}

type XmppClient = ReturnType<typeof client>;

const held = new Map<string, XmppClient>();
let presenceReceived = 0;
/** Tries per held login: on a machine this busy a server may time out or reset a few handshakes. */
const HOLD_LOGIN_ATTEMPTS = 3;
const HOLD_RETRY_DELAY_MS = 200;

class ErrorTally {
  readonly counts: Record<string, number> = {};
  add(error: unknown): void {
    const key = (error instanceof Error ? error.message || error.name : String(error)).slice(0, 80);
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }
}

/**
 * Errors the library raises outside any promise the worker awaits (a socket reset during
 * STARTTLS, a negotiation timeout after the login was given up): one client's failure, counted and
 * reported with the counts, never the end of a process holding thousands of others.
 */
const strayErrors = new ErrorTally();
process.on('uncaughtException', (error) => strayErrors.add(error));
process.on('unhandledRejection', (error) => strayErrors.add(error));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A client logged in (bound) as `username`; with countPresence, presence stanzas from others are counted from now on. */
async function login(target: Target, index: number, username: string, countPresence = false): Promise<XmppClient> {
  const xmpp = client({
    service: `xmpp://127.0.0.1:${target.port}`,
    domain: PEER_XMPP_DOMAIN,
    resource: 'bench',
    credentials: (authenticate: (credentials: { username: string; password: string }, mechanism: string) => Promise<void>, mechanisms: string[]) => {
      if (!mechanisms.includes(target.mechanism)) throw new Error(`server does not offer ${target.mechanism} (offers ${mechanisms.join(' ')})`);
      return authenticate({ username, password: target.password }, target.mechanism);
    },
  });
  xmpp.reconnect.stop();
  const localAddress = target.localAddresses.length === 0 ? undefined : target.localAddresses[index % target.localAddresses.length];
  if (localAddress !== undefined) {
    const socketParameters = xmpp.socketParameters.bind(xmpp);
    xmpp.socketParameters = (service: string) => ({ ...socketParameters(service), localAddress });
  }
  // Errors after login end the client (a held one is then no longer counted as open).
  xmpp.on('error', () => {});
  const ownBareJid = `${username}@${PEER_XMPP_DOMAIN}`;
  xmpp.on('stanza', (stanza: { is: (name: string) => boolean; attrs: Record<string, string | undefined> }) => {
    if (countPresence && stanza.is('presence') && !(stanza.attrs.from ?? '').startsWith(ownBareJid)) presenceReceived += 1;
  });
  try {
    await withTimeout(xmpp.start(), REPLY_TIMEOUT_MS, 'login');
  } catch (error) {
    void xmpp.stop().catch(() => {});
    throw error;
  }
  return xmpp;
}

/** One round trip (XEP-0199 ping to the server): stanzas before it on the stream were handled. */
async function ping(xmpp: XmppClient): Promise<void> {
  await withTimeout(xmpp.iqCaller.get(xml('ping', { xmlns: 'urn:xmpp:ping' }), PEER_XMPP_DOMAIN), REPLY_TIMEOUT_MS, 'ping');
}

/**
 * Logs every username in, sends its initial presence, and keeps it. With countPresence (the
 * observers), presence stanzas from others are counted: a flapper's are not, as the friends'
 * statuses in our login.ok are not counted as notifications.
 */
async function holdLogins(args: Target & { usernames: string[]; concurrency: number; countPresence?: boolean }) {
  const errors = new ErrorTally();
  let loggedIn = 0;
  await inPool(args.usernames, args.concurrency, async (username, index) => {
    for (let attempt = 1; attempt <= HOLD_LOGIN_ATTEMPTS; attempt++) {
      try {
        const xmpp = await login(args, index, username, args.countPresence === true);
        await xmpp.send(xml('presence'));
        held.set(username, xmpp);
        loggedIn += 1;
        return;
      } catch (error) {
        errors.add(error);
        await new Promise((resolve) => setTimeout(resolve, HOLD_RETRY_DELAY_MS));
      }
    }
  });
  return { loggedIn, errors: errors.counts };
}

/** Clients logged in and still open, presence stanzas from others received since the start, and errors raised outside any request. */
function counts() {
  let open = 0;
  for (const xmpp of held.values()) if (xmpp.status === 'online') open += 1;
  return { held: held.size, open, presenceReceived, strayErrors: strayErrors.counts };
}

/**
 * Each username, on its own connection each time, logs in (TCP, STARTTLS, SASL, bind) and closes
 * its stream, in a loop, for the window: XMPP has no logout that keeps the connection for the
 * next login, so each login here pays the TLS handshake our login_rate's does not.
 */
async function loginLoop(args: Target & { usernames: string[]; durationMs: number }) {
  const errors = new ErrorTally();
  const reservoir = new SampleReservoir();
  let logins = 0;
  const startedMs = performance.now();
  const endMs = startedMs + args.durationMs;
  const perInterval = new IntervalCounter(performance.timeOrigin + startedMs);
  await Promise.all(
    args.usernames.map(async (username, index) => {
      while (performance.now() < endMs) {
        const sentMs = performance.now();
        try {
          const xmpp = await login(args, index, username);
          const doneMs = performance.now();
          reservoir.recordMs(doneMs - sentMs);
          if (doneMs <= endMs) {
            logins += 1;
            perInterval.add(performance.timeOrigin + doneMs);
          }
          await withTimeout(xmpp.stop(), REPLY_TIMEOUT_MS, 'stop');
        } catch (error) {
          errors.add(error);
          // A server refusing fast must not turn the loop into a spin.
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    }),
  );
  return { logins, wallMs: args.durationMs, samplesUs: reservoir.take(), errors: errors.counts, intervalCounts: perInterval.take() };
}

/**
 * The held flappers go unavailable and available again, in a loop, for the window: each change is
 * one presence stanza the server fans out to every contact online. A ping after each change
 * paces the loop by the server (it answers after it handled the presence), as our flappers are
 * paced by the login and logout replies.
 */
async function flapLoop(args: { usernames: string[]; durationMs: number }) {
  const errors = new ErrorTally();
  let changes = 0;
  const endMs = performance.now() + args.durationMs;
  await Promise.all(
    args.usernames.map(async (username) => {
      const xmpp = held.get(username);
      if (xmpp === undefined) return errors.add(new Error(`${username} is not held`));
      try {
        while (performance.now() < endMs) {
          await xmpp.send(xml('presence', { type: 'unavailable' }));
          await ping(xmpp);
          await xmpp.send(xml('presence'));
          await ping(xmpp);
          changes += 2;
        }
      } catch (error) {
        errors.add(error);
      }
    }),
  );
  return { changes, wallMs: args.durationMs, errors: errors.counts };
}

async function releaseAll() {
  const clients = [...held.values()];
  held.clear();
  await inPool(clients, 200, async (xmpp) => {
    await withTimeout(xmpp.stop(), REPLY_TIMEOUT_MS, 'stop').catch(() => {});
  });
  return { released: clients.length };
}

serveRpc({ holdLogins, counts, loginLoop, flapLoop, releaseAll });
