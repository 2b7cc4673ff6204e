// What a verifier trusts, besides public keys (pure: file contents are arguments):
//
//   - a Sigstore trusted root (`--trusted-root FILE`, the trusted_root.json that cosign and
//     sigstore-js read): Fulcio CAs, Rekor logs, CT logs, timestamp authorities;
//   - an enterprise PKI (`--ca-roots FILE`, `--ca-intermediates FILE`): CA certificates a
//     signing certificate must chain to;
//   - timestamp authorities given as a certificate chain (`--timestamp-certificate-chain`);
//   - who must have signed (`--certificate-identity[-regexp]`,
//     `--certificate-oidc-issuer[-regexp]`), matched as cosign matches them: the identity
//     against the certificate's subject alternative names (email, URI, DNS), the issuer
//     against Fulcio's OIDC issuer extension; a regular expression may match anywhere in
//     the value (cosign uses Go's unanchored MatchString; anchor it with ^...$).

import { X509Certificate, type ASN1Obj } from '@sigstore/core';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify';
import { AttestationError } from './errors.js';

type CertAuthority = TrustMaterial['certificateAuthorities'][number];
type TLogAuthority = TrustMaterial['tlogs'][number];

export interface CertificateIdentityPolicy {
  /** Exact match against one of the subject alternative names. */
  subject?: string;
  subjectRegExp?: RegExp;
  /** Exact match against the OIDC issuer extension. */
  issuer?: string;
  issuerRegExp?: RegExp;
}

export interface BundleTrust {
  /** From a Sigstore trusted root: Fulcio CAs (keyless certificates). */
  sigstoreAuthorities: CertAuthority[];
  /** From --ca-roots (with their --ca-intermediates): enterprise CAs. */
  caAuthorities: CertAuthority[];
  timestampAuthorities: CertAuthority[];
  tlogs: TLogAuthority[];
  ctlogs: TLogAuthority[];
  identity?: CertificateIdentityPolicy;
  /** cosign's --insecure-ignore-tlog: transparency-log entries are neither required nor checked. */
  ignoreTlog?: boolean;
  /** cosign's --insecure-ignore-sct: a Fulcio certificate needs no embedded SCT. */
  ignoreSct?: boolean;
}

export interface BundleTrustInput {
  /** The trusted_root.json text. */
  trustedRoot?: string;
  /** PEM text of the root CA certificates. */
  caRoots?: string;
  caIntermediates?: string;
  /** PEM chain of a timestamp authority: its signing certificate first, its root last. */
  timestampChain?: string;
  identity?: CertificateIdentityPolicy;
  ignoreTlog?: boolean;
  ignoreSct?: boolean;
  /** For messages: where each input came from. */
  sources?: { trustedRoot?: string; caRoots?: string; caIntermediates?: string; timestampChain?: string };
}

const ALL_TIME = { start: new Date(0), end: new Date(8640000000000000) };

/** Every PEM certificate in the text, parsed. */
export function parseCertificates(pem: string, source: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new AttestationError('malformed-trust', `${source}: no PEM certificate in it`);
  return blocks.map((block, i) => {
    try {
      return X509Certificate.parse(block);
    } catch (cause) {
      throw new AttestationError('malformed-trust', `${source}: certificate ${i + 1} cannot be parsed`, { cause });
    }
  });
}

function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.subject.equals(cert.issuer) && cert.verify();
  } catch {
    return false;
  }
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.issuer.equals(issuer.subject) && cert.verify(issuer);
  } catch {
    return false;
  }
}

/** One authority per root, holding the intermediates that chain up to it. */
function caAuthorities(roots: X509Certificate[], intermediates: X509Certificate[], source: { roots: string; intermediates: string }): CertAuthority[] {
  for (const root of roots) {
    if (!isSelfSigned(root)) throw new AttestationError('malformed-trust', `${source.roots}: a certificate in it is not a self-signed root CA`);
  }
  for (const cert of intermediates) {
    // Intermediates are not trusted by themselves: a self-signed one would become a root.
    if (isSelfSigned(cert)) throw new AttestationError('malformed-trust', `${source.intermediates}: a self-signed certificate is not an intermediate (put roots in --ca-roots)`);
  }
  return roots.map((root) => {
    const chain = [root];
    let grew = true;
    while (grew) {
      grew = false;
      for (const cert of intermediates) {
        if (!chain.includes(cert) && chain.some((c) => issuedBy(cert, c))) {
          chain.push(cert);
          grew = true;
        }
      }
    }
    return { certChain: chain, validFor: ALL_TIME };
  });
}

/** Builds the trust a verifier checks certificates, logs and timestamps against. */
export function buildBundleTrust(input: BundleTrustInput): BundleTrust {
  const trust: BundleTrust = { sigstoreAuthorities: [], caAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
  const src = input.sources ?? {};
  if (input.trustedRoot !== undefined) {
    const where = src.trustedRoot ?? 'trusted root';
    let material: TrustMaterial;
    try {
      material = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(input.trustedRoot)));
    } catch (cause) {
      throw new AttestationError('malformed-trust', `${where}: not a Sigstore trusted root (trusted_root.json): ${(cause as Error).message}`, { cause });
    }
    trust.sigstoreAuthorities.push(...material.certificateAuthorities);
    trust.timestampAuthorities.push(...material.timestampAuthorities);
    trust.tlogs.push(...material.tlogs);
    trust.ctlogs.push(...material.ctlogs);
  }
  if (input.caRoots !== undefined) {
    const roots = parseCertificates(input.caRoots, src.caRoots ?? '--ca-roots');
    const intermediates = input.caIntermediates === undefined ? [] : parseCertificates(input.caIntermediates, src.caIntermediates ?? '--ca-intermediates');
    trust.caAuthorities.push(...caAuthorities(roots, intermediates, { roots: src.caRoots ?? '--ca-roots', intermediates: src.caIntermediates ?? '--ca-intermediates' }));
  } else if (input.caIntermediates !== undefined) {
    throw new AttestationError('malformed-trust', '--ca-intermediates needs --ca-roots (the roots they chain to)');
  }
  if (input.timestampChain !== undefined) {
    const chain = parseCertificates(input.timestampChain, src.timestampChain ?? '--timestamp-certificate-chain');
    trust.timestampAuthorities.push({ certChain: chain, validFor: ALL_TIME });
  }
  if (input.identity !== undefined) trust.identity = input.identity;
  if (input.ignoreTlog === true) trust.ignoreTlog = true;
  if (input.ignoreSct === true) trust.ignoreSct = true;
  return trust;
}

export function emptyBundleTrust(): BundleTrust {
  return { sigstoreAuthorities: [], caAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
}

// ---- identities -------------------------------------------------------------------------

const OID_SAN = '2.5.29.17';
const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';

/** The certificate's subject alternative names: emails, DNS names and URIs (cosign's list, less IPs and otherName). */
export function subjectAlternativeNames(cert: X509Certificate): string[] {
  const ext = cert.extension(OID_SAN);
  if (ext === undefined) return [];
  let names: ASN1Obj[];
  try {
    // extnValue (OCTET STRING) holds the GeneralNames SEQUENCE
    names = ext.valueObj.subs[0]?.subs ?? [];
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    // GeneralName: [1] rfc822Name, [2] dNSName, [6] uniformResourceIdentifier (IA5String)
    if (name.tag.isContextSpecific(1) || name.tag.isContextSpecific(2) || name.tag.isContextSpecific(6)) {
      out.push(name.value.toString('ascii'));
    }
  }
  return out;
}

/** Fulcio's OIDC issuer extension (v2, else v1), when the certificate has one. */
export function oidcIssuer(cert: X509Certificate): string | undefined {
  const v2 = cert.extension(OID_FULCIO_ISSUER_V2);
  if (v2 !== undefined) {
    try {
      // extnValue (OCTET STRING) holds a UTF8String
      return v2.valueObj.subs[0]?.value.toString('utf8');
    } catch {
      return undefined;
    }
  }
  return cert.extension(OID_FULCIO_ISSUER_V1)?.value.toString('ascii');
}

/** Why the certificate's identity does not satisfy the policy; undefined when it does. */
export function identityMismatch(policy: CertificateIdentityPolicy, sans: readonly string[], issuer: string | undefined): string | undefined {
  const shown = sans.length === 0 ? '(no subject alternative name)' : sans.join(', ');
  if (policy.subject !== undefined && !sans.includes(policy.subject)) {
    return `the certificate is for ${shown}, not ${policy.subject}`;
  }
  if (policy.subjectRegExp !== undefined && !sans.some((s) => policy.subjectRegExp?.test(s) === true)) {
    return `the certificate is for ${shown}, which does not match ${String(policy.subjectRegExp)}`;
  }
  if (policy.issuer !== undefined && issuer !== policy.issuer) {
    return `the certificate's OIDC issuer is ${issuer ?? '(none)'}, not ${policy.issuer}`;
  }
  if (policy.issuerRegExp !== undefined && (issuer === undefined || !policy.issuerRegExp.test(issuer))) {
    return `the certificate's OIDC issuer ${issuer ?? '(none)'} does not match ${String(policy.issuerRegExp)}`;
  }
  return undefined;
}

/** A policy with nothing in it accepts any identity: callers require one before trusting certificates. */
export function hasIdentity(policy: CertificateIdentityPolicy | undefined): boolean {
  return policy !== undefined && (policy.subject !== undefined || policy.subjectRegExp !== undefined);
}
