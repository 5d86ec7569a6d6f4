/**
 * Identity keys and sealed boxes for simulated users, as stand-ins. The simulator checks the
 * protocol (who may leave mail, that it is handed over once, in order, across crashes), not the
 * cryptography, which cli/crypto/sealed-box.ts has its own tests for; real sealing would also make
 * every run differ (a fresh ephemeral key per box) and the trace hash with it.
 *
 * A user's keys have the shape of real ones (base64 of a 44-byte SPKI DER with the Ed25519 or
 * X25519 header, what core/identity.ts checks), derived from the username and the run's seed
 * (sim-keys.ts hands them to the peers and to the links' handshakes). A stand-in box is the
 * base64 of {to: sealKey, p: plaintext}: it "opens" only with the key it names, so mail handed to
 * the wrong user still fails as it would for real. It is not secret, and nothing pretends it is.
 */
import type { PeerSealer } from '../../core/peer/host.ts';

/** The first 12 bytes of an Ed25519 and of an X25519 SPKI DER, in base64 (16 characters each). */
const SIGN_KEY_HEADER = 'MCowBQYDK2VwAyEA';
const SEAL_KEY_HEADER = 'MCowBQYDK2VuAyEA';

/** 32 bytes derived from a label (FNV-1a steps; only distinctness matters), as 43 base64 characters and '='. */
function keyBody(label: string): string {
  const bytes = new Uint8Array(32);
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  for (let i = 0; i < bytes.length; i++) {
    h = Math.imul(h ^ i, 0x01000193) >>> 0;
    bytes[i] = h >>> 24;
  }
  return Buffer.from(bytes).toString('base64');
}

export interface SimIdentity {
  readonly signKey: string;
  readonly sealKey: string;
}

/** The stand-in keys of `username` in the run of `seed`: the same in every run of that seed. */
export function simIdentityOf(username: string, seed = 0): SimIdentity {
  return { signKey: simSignKeyOf(`sign:${seed}:${username}`), sealKey: SEAL_KEY_HEADER + keyBody(`seal:${seed}:${username}`) };
}

/** A stand-in Ed25519 public key for `label` (a user's, or an attacker's in sim-keys.ts). */
export function simSignKeyOf(label: string): string {
  return SIGN_KEY_HEADER + keyBody(label);
}

/** The stand-in sealer of the user whose seal key is `ownSealKey`; answers at once. */
export function simSealer(ownSealKey: string): PeerSealer {
  return {
    seal(sealKey, plaintext, done) {
      done(Buffer.from(JSON.stringify({ to: sealKey, p: plaintext }), 'utf8').toString('base64'));
    },
    open(sealed, done) {
      try {
        const box = JSON.parse(Buffer.from(sealed, 'base64').toString('utf8')) as { to?: unknown; p?: unknown };
        done(box.to === ownSealKey && typeof box.p === 'string' ? box.p : null);
      } catch {
        done(null);
      }
    },
  };
}
