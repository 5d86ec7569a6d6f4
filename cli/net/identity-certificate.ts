/**
 * The certificate a client presents on its peer-to-peer TLS links: self-signed, over its
 * Ed25519 identity key, made by @peculiar/x509 (no hand-written ASN.1) on each start (about
 * 20 ms; nothing is stored: the key is what counts, and it lives in identity.json). Nobody checks
 * its names or dates against a CA: each side takes the key the other proved in the handshake
 * (Stream.peerKey) and the core compares it with the key the server vouched for
 * (core/peer/peer-key.ts).
 */
import { type KeyObject, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { TcpTransport } from './tcp-transport.ts';
import { PEER_SESSION_LIFETIME_S } from './peer-sessions.ts';
import { P2P_UNAUTHENTICATED_STREAMS_MAX } from '../../core/limits.ts';

/** A long life: the certificate is remade at every start, and its dates are never checked. */
const IDENTITY_CERT_VALIDITY_DAYS = 3_650;
const DAY_MS = 86_400_000;
const ED25519 = { name: 'Ed25519' } as const;

export interface IdentityCertificate {
  readonly cert: string;
  readonly key: string;
}

export async function makeIdentityCertificate(signPrivateKey: KeyObject, nowMs = Date.now()): Promise<IdentityCertificate> {
  if (signPrivateKey.asymmetricKeyType !== 'ed25519') throw new Error('an identity certificate needs the Ed25519 identity key');
  const subtle = webcrypto.subtle;
  const privateKey = await subtle.importKey('pkcs8', signPrivateKey.export({ format: 'der', type: 'pkcs8' }), ED25519, false, ['sign']);
  const publicKey = await subtle.importKey('spki', createPublicKey(signPrivateKey).export({ format: 'der', type: 'spki' }), ED25519, true, ['verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(8).toString('hex'),
      name: 'CN=p2pchat peer',
      notBefore: new Date(nowMs - DAY_MS),
      notAfter: new Date(nowMs + IDENTITY_CERT_VALIDITY_DAYS * DAY_MS),
      keys: { privateKey, publicKey },
      signingAlgorithm: ED25519,
    },
    webcrypto as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[1],
  );
  return { cert: certificate.toString('pem'), key: signPrivateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/**
 * TLS handshakes a client's P2P port may have under way in all (shared fairly by address key, see
 * TLS_HANDSHAKES_MAX): as many as the unauthenticated streams a finished handshake goes on to
 * hold (P2P_UNAUTHENTICATED_STREAMS_MAX); a friend needs one for a moment per chat session. Without
 * it a stranger with many addresses held any number of sockets mid-handshake on a user's machine.
 */
export const P2P_TLS_HANDSHAKES_MAX = P2P_UNAUTHENTICATED_STREAMS_MAX;

/**
 * The peer-to-peer transport: TLS 1.3 both ways with the identity certificate, each side asking
 * the other for its own. The server-style pin check is not used here (verifyServer accepts): the
 * key each side proved goes to the core, which decides.
 */
export function peerTlsTransport(identity: IdentityCertificate): TcpTransport {
  return new TcpTransport({
    // Tickets resume for PEER_SESSION_LIFETIME_S; the caller keeps the newest per friend, vouched
    // key and address (peer-sessions.ts), so a chat reopened with a friend costs neither side a
    // certificate or a signature, and each side still checks the key the other proved.
    tlsServer: { cert: identity.cert, key: identity.key, requestClientCert: true, handshakesMax: P2P_TLS_HANDSHAKES_MAX, ticketLifetimeS: PEER_SESSION_LIFETIME_S },
    // No handshake timer on connects: the peer machine's hello timer (P2P_HELLO_TIMEOUT_MS) runs
    // from the connect and ends it; a second 10 s timer racing it could tell the user a friend who
    // never answered was `unreachable` instead of `timeout` (plain TCP's did, in 1 of 3 runs).
    tlsClient: { cert: identity.cert, key: identity.key, verifyServer: () => null, handshakeTimeoutMs: 0, resumePeerSessions: true },
  });
}
