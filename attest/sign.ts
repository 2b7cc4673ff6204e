// Signing (no I/O: the key is passed in memory): DSSE over an in-toto statement
// with a local ECDSA P-256 key, packaged by @sigstore/sign's DSSEBundleBuilder into a
// Sigstore bundle v0.3. Fully offline: no Fulcio certificate, no Rekor or TSA witness.
// Must not import verify.ts (sigstore-js habit: signing and verification stay apart).

import { sign as cryptoSign, type KeyObject } from 'node:crypto';
import { BUNDLE_V03_MEDIA_TYPE, bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, type Signature, type Signer } from '@sigstore/sign';
import { AttestationError } from './errors.js';
import { assertP256, keyId, toPublicKey } from './keyid.js';
import { IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE_V1, type Statement } from './statement.js';

/**
 * A @sigstore/sign Signer backed by a local private key. Signatures are ECDSA P-256 over
 * SHA-256, DER-encoded (what DSSE and Sigstore expect); the key material it reports is the
 * SPKI PEM public key with hint = keyId (sha256 hex of the SPKI DER).
 */
export function createLocalSigner(privateKey: KeyObject): Signer {
  if (privateKey.type !== 'private') throw new AttestationError('invalid-argument', 'signing needs a private key');
  assertP256(privateKey);
  const publicKeyPem = toPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const hint = keyId(privateKey);
  return {
    sign: async (data: Buffer): Promise<Signature> => ({
      signature: cryptoSign('sha256', data, privateKey),
      key: { $case: 'publicKey', publicKey: publicKeyPem, hint },
    }),
  };
}

/** Signs any payload as a DSSE envelope in a v0.3 bundle (JSON form). */
export async function signPayload(
  payload: Uint8Array,
  payloadType: string,
  options: { privateKey: KeyObject },
): Promise<SerializedBundle> {
  const builder = new DSSEBundleBuilder({ signer: createLocalSigner(options.privateKey), witnesses: [] });
  let json: SerializedBundle;
  try {
    const bundle = await builder.create({ data: Buffer.from(payload), type: payloadType });
    json = bundleToJSON(bundle);
  } catch (cause) {
    throw new AttestationError('signing-failed', `signing failed: ${String((cause as Error)?.message ?? cause)}`, { cause });
  }
  if (json.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw new AttestationError('signing-failed', `expected a ${BUNDLE_V03_MEDIA_TYPE} bundle, got ${json.mediaType}`);
  }
  return json;
}

/**
 * Serializes the statement (JSON.stringify, key order as built) and signs it with
 * payloadType application/vnd.in-toto+json. Returns the bundle as JSON-ready object.
 */
export async function signStatement(statement: Statement, options: { privateKey: KeyObject }): Promise<SerializedBundle> {
  if (statement._type !== STATEMENT_TYPE_V1 || !Array.isArray(statement.subject) || statement.subject.length === 0) {
    throw new AttestationError('invalid-argument', 'not an in-toto Statement v1 with at least one subject');
  }
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  return signPayload(payload, IN_TOTO_PAYLOAD_TYPE, options);
}
