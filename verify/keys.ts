// What a verification trusts, read from the files the caller names: public keys (`--key`),
// a Sigstore trusted root, CA roots and intermediates, a TSA's certificate chain, and the
// certificate identity that must have signed (cosign's flags and meaning).
import type { KeyObject } from 'node:crypto';
import { USER_FILE_LIMITS, UserFileError, readUserFile } from '../common/index.js';
import { resolve } from 'node:path';
import type { BundleTrust, CertificateIdentityPolicy } from '../attest/index.js';
import { TrustOptionError } from './errors.js';

export interface TrustedKey {
  id: string;
  key: KeyObject;
  path: string;
}

/** Everything a verification trusts. */
export interface VerifierTrust {
  keys: TrustedKey[];
  bundle: BundleTrust;
  /** One line per root of trust, for reports ("key 3f2a… (signer.pub)", "identity ... issued by ..."). */
  summary: string[];
}

/** The trust options as the command line gives them (file paths as given, patterns as text). */
export interface TrustOptions {
  keyFiles?: readonly string[];
  /** `--trusted-root FILE`: a Sigstore trusted_root.json (Fulcio, Rekor, CT logs, TSAs). */
  trustedRoot?: string;
  /** `--ca-roots FILE`, `--ca-intermediates FILE`: an enterprise PKI. */
  caRoots?: string;
  caIntermediates?: string;
  /** `--timestamp-certificate-chain FILE`: a TSA's chain, signing certificate first. */
  timestampChain?: string;
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  insecureIgnoreTlog?: boolean;
  insecureIgnoreSct?: boolean;
}

/** True when the options name anything to trust besides keys, or an identity. */
export function hasCertificateTrust(o: TrustOptions): boolean {
  return [o.trustedRoot, o.caRoots, o.certificateIdentity, o.certificateIdentityRegexp, o.certificateOidcIssuer, o.certificateOidcIssuerRegexp].some((v) => v !== undefined);
}

/** True when the options trust anything at all (so that an unsigned input is an error). */
export function hasAnyTrust(o: TrustOptions): boolean {
  return (o.keyFiles?.length ?? 0) > 0 || hasCertificateTrust(o);
}

/** The public key files as trusted keys (each once, by key id). */
export async function loadTrustedKeys(keyFiles: readonly string[], cwd: string): Promise<TrustedKey[]> {
  const attest = await import('../attest/index.js');
  const trusted: TrustedKey[] = [];
  for (const path of keyFiles) {
    const key = await attest.loadPublicKey(resolve(cwd, path));
    const id = attest.keyId(key);
    if (!trusted.some((k) => k.id === id)) trusted.push({ id, key, path });
  }
  return trusted;
}

function regexp(flag: string, text: string | undefined): RegExp | undefined {
  if (text === undefined) return undefined;
  try {
    return new RegExp(text);
  } catch (err) {
    throw new TrustOptionError(`${flag}: not a regular expression: ${(err as Error).message}`);
  }
}

async function readTrustFile(cwd: string, path: string | undefined, flag: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    // regular and bounded, like every file read on the user's behalf (common/user-file.ts)
    return readUserFile(resolve(cwd, path), { what: `${flag} ${path}`, maxBytes: USER_FILE_LIMITS.key }).toString('utf8');
  } catch (err) {
    const why = err instanceof UserFileError ? err.message : `${flag} ${path}: cannot be read: ${(err as Error).message}`;
    throw new TrustOptionError(why, 'input');
  }
}

/**
 * Checks the combination (cosign's rules: an identity needs certificate trust, exact and
 * regexp forms exclude each other; a Sigstore trusted root needs an OIDC issuer) and reads
 * the files.
 */
export async function loadTrust(o: TrustOptions, cwd: string): Promise<VerifierTrust> {
  if (o.certificateIdentity !== undefined && o.certificateIdentityRegexp !== undefined) {
    throw new TrustOptionError('give --certificate-identity or --certificate-identity-regexp, not both');
  }
  if (o.certificateOidcIssuer !== undefined && o.certificateOidcIssuerRegexp !== undefined) {
    throw new TrustOptionError('give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp, not both');
  }
  const hasIdentity = o.certificateIdentity !== undefined || o.certificateIdentityRegexp !== undefined;
  const hasIssuer = o.certificateOidcIssuer !== undefined || o.certificateOidcIssuerRegexp !== undefined;
  if ((hasIdentity || hasIssuer) && o.trustedRoot === undefined && o.caRoots === undefined) {
    throw new TrustOptionError('--certificate-identity needs the CAs that issue the certificates: --trusted-root FILE (Sigstore: Fulcio) or --ca-roots FILE (your PKI)');
  }
  if ((o.trustedRoot !== undefined || o.caRoots !== undefined) && !hasIdentity && (o.keyFiles?.length ?? 0) === 0) {
    throw new TrustOptionError('--trusted-root and --ca-roots trust certificates only for the identity given by --certificate-identity or --certificate-identity-regexp');
  }
  if (hasIssuer && !hasIdentity) throw new TrustOptionError('--certificate-oidc-issuer needs --certificate-identity (or -regexp) too');

  const attest = await import('../attest/index.js');
  const keys = await loadTrustedKeys(o.keyFiles ?? [], cwd);
  const identity: CertificateIdentityPolicy = {};
  if (o.certificateIdentity !== undefined) identity.subject = o.certificateIdentity;
  const subjectRegExp = regexp('--certificate-identity-regexp', o.certificateIdentityRegexp);
  if (subjectRegExp !== undefined) identity.subjectRegExp = subjectRegExp;
  if (o.certificateOidcIssuer !== undefined) identity.issuer = o.certificateOidcIssuer;
  const issuerRegExp = regexp('--certificate-oidc-issuer-regexp', o.certificateOidcIssuerRegexp);
  if (issuerRegExp !== undefined) identity.issuerRegExp = issuerRegExp;

  const [trustedRoot, caRoots, caIntermediates, timestampChain] = await Promise.all([
    readTrustFile(cwd, o.trustedRoot, '--trusted-root'),
    readTrustFile(cwd, o.caRoots, '--ca-roots'),
    readTrustFile(cwd, o.caIntermediates, '--ca-intermediates'),
    readTrustFile(cwd, o.timestampChain, '--timestamp-certificate-chain'),
  ]);
  const bundle = attest.buildBundleTrust({
    ...(trustedRoot === undefined ? {} : { trustedRoot }),
    ...(caRoots === undefined ? {} : { caRoots }),
    ...(caIntermediates === undefined ? {} : { caIntermediates }),
    ...(timestampChain === undefined ? {} : { timestampChain }),
    ...(hasIdentity ? { identity } : {}),
    ...(o.insecureIgnoreTlog === true ? { ignoreTlog: true } : {}),
    ...(o.insecureIgnoreSct === true ? { ignoreSct: true } : {}),
    sources: {
      ...(o.trustedRoot === undefined ? {} : { trustedRoot: o.trustedRoot }),
      ...(o.caRoots === undefined ? {} : { caRoots: o.caRoots }),
      ...(o.caIntermediates === undefined ? {} : { caIntermediates: o.caIntermediates }),
      ...(o.timestampChain === undefined ? {} : { timestampChain: o.timestampChain }),
    },
  });
  if (bundle.sigstoreAuthorities.length > 0 && hasIdentity && !hasIssuer) {
    throw new TrustOptionError(`--trusted-root ${o.trustedRoot ?? ''} trusts Fulcio certificates: give --certificate-oidc-issuer (or -regexp) too, as cosign requires`);
  }

  const summary = keys.map((k) => `key ${k.id} (${k.path})`);
  if (hasIdentity) {
    const who = o.certificateIdentity ?? `/${o.certificateIdentityRegexp ?? ''}/`;
    const issuer = o.certificateOidcIssuer ?? (o.certificateOidcIssuerRegexp === undefined ? undefined : `/${o.certificateOidcIssuerRegexp}/`);
    const from = [o.trustedRoot === undefined ? undefined : `Fulcio of ${o.trustedRoot}`, o.caRoots === undefined ? undefined : `CAs of ${o.caRoots}`].filter((s) => s !== undefined).join(' or ');
    summary.push(`identity ${who}${issuer === undefined ? '' : ` (issuer ${issuer})`}, certificates from ${from}`);
  }
  return { keys, bundle, summary };
}

/** Keys alone, as older callers give them. */
export function keysOnly(keys: readonly TrustedKey[], attest: typeof import('../attest/index.js')): VerifierTrust {
  return { keys: [...keys], bundle: attest.emptyBundleTrust(), summary: keys.map((k) => `key ${k.id} (${k.path})`) };
}
