// Reading a Sigstore bundle's JSON before (or without) verifying it: the key it names and
// the statement it carries. Nothing here is trusted: verifyBundle (attest) decides.
import type { Statement } from '../attest/index.js';

/** The key hint of a Sigstore bundle's JSON, if it has one (not verified). */
export function bundleKeyHint(bytes: Uint8Array): string | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      verificationMaterial?: { publicKey?: { hint?: unknown } };
      dsseEnvelope?: { signatures?: { keyid?: unknown }[] };
    };
    const hint = doc.verificationMaterial?.publicKey?.hint;
    if (typeof hint === 'string' && hint !== '') return hint;
    const keyid = doc.dsseEnvelope?.signatures?.[0]?.keyid;
    return typeof keyid === 'string' && keyid !== '' ? keyid : undefined;
  } catch {
    return undefined;
  }
}

/** The payload of a bundle's DSSE envelope as a statement (no verification: use after verifyBundle authenticated it). */
export function envelopeStatement(bytes: Uint8Array): Partial<Statement> | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { dsseEnvelope?: { payload?: unknown } };
    const payload = doc.dsseEnvelope?.payload;
    if (typeof payload !== 'string') return undefined;
    const statement: unknown = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
    return typeof statement === 'object' && statement !== null ? (statement as Partial<Statement>) : undefined;
  } catch {
    return undefined;
  }
}

