// The verification trust flags, with cosign's names and meaning, shared by `verify`, `show`,
// `diff` and `guard`:
//
//   --key PUB (repeatable)                    public keys (ours, or cosign.pub)
//   --certificate-identity ID                 the certificate's SAN (email, URI such as
//   --certificate-identity-regexp RE            spiffe://example.org/ci/builder) must be ID,
//                                               or match RE anywhere (Go's MatchString, as cosign)
//   --certificate-oidc-issuer URL             Fulcio certificates: the OIDC issuer (required
//   --certificate-oidc-issuer-regexp RE         with --trusted-root, as cosign requires it)
//   --trusted-root FILE                       a Sigstore trusted_root.json: Fulcio CAs,
//                                               Rekor logs, CT logs, TSAs
//   --ca-roots FILE, --ca-intermediates FILE  an enterprise PKI's CA certificates (PEM)
//   --timestamp-certificate-chain FILE        a TSA's chain (PEM), its signing certificate first
//   --insecure-ignore-tlog                    no transparency-log entry required or checked
//   --insecure-ignore-sct                     no SCT required in a Fulcio certificate
import type { Command } from 'commander';
import type { TrustOptions } from '../../verify/index.js';
import { collect } from './command.js';

export interface TrustFlags {
  key?: string[];
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  trustedRoot?: string;
  caRoots?: string;
  caIntermediates?: string;
  timestampCertificateChain?: string;
  insecureIgnoreTlog?: boolean;
  insecureIgnoreSct?: boolean;
}

/** Adds the trust flags; `keyHelp` describes --key for this command. */
export function addTrustOptions(command: Command, keyHelp: string): Command {
  return command
    .option('--key <PUB>', keyHelp, collect)
    .option('--certificate-identity <ID>', "trust certificates for this identity: a SAN of the signing certificate (email, or URI such as spiffe://...)")
    .option('--certificate-identity-regexp <RE>', 'like --certificate-identity, a regular expression matched anywhere in a SAN (anchor it with ^...$)')
    .option('--certificate-oidc-issuer <URL>', "Fulcio certificates: the OIDC issuer of the identity (required with --trusted-root)")
    .option('--certificate-oidc-issuer-regexp <RE>', 'like --certificate-oidc-issuer, a regular expression')
    .option('--trusted-root <FILE>', 'Sigstore trusted root (trusted_root.json): the Fulcio CAs, Rekor logs, CT logs and TSAs to trust')
    .option('--ca-roots <FILE>', 'root CA certificates (PEM) that signing certificates must chain to (an enterprise PKI)')
    .option('--ca-intermediates <FILE>', 'intermediate CA certificates (PEM) between --ca-roots and the signing certificates')
    .option('--timestamp-certificate-chain <FILE>', "a timestamp authority's certificate chain (PEM, its signing certificate first): its RFC 3161 timestamps are checked and used as the signing time")
    .option('--insecure-ignore-tlog', 'do not require or check transparency-log entries (as cosign)')
    .option('--insecure-ignore-sct', 'do not require an SCT in Fulcio certificates (as cosign)');
}

export function trustOptions(flags: TrustFlags): TrustOptions {
  return {
    keyFiles: flags.key ?? [],
    ...(flags.certificateIdentity === undefined ? {} : { certificateIdentity: flags.certificateIdentity }),
    ...(flags.certificateIdentityRegexp === undefined ? {} : { certificateIdentityRegexp: flags.certificateIdentityRegexp }),
    ...(flags.certificateOidcIssuer === undefined ? {} : { certificateOidcIssuer: flags.certificateOidcIssuer }),
    ...(flags.certificateOidcIssuerRegexp === undefined ? {} : { certificateOidcIssuerRegexp: flags.certificateOidcIssuerRegexp }),
    ...(flags.trustedRoot === undefined ? {} : { trustedRoot: flags.trustedRoot }),
    ...(flags.caRoots === undefined ? {} : { caRoots: flags.caRoots }),
    ...(flags.caIntermediates === undefined ? {} : { caIntermediates: flags.caIntermediates }),
    ...(flags.timestampCertificateChain === undefined ? {} : { timestampChain: flags.timestampCertificateChain }),
    ...(flags.insecureIgnoreTlog === true ? { insecureIgnoreTlog: true } : {}),
    ...(flags.insecureIgnoreSct === true ? { insecureIgnoreSct: true } : {}),
  };
}

/** The trust flags as command-line arguments again (the guard's worker). */
export function trustArgs(t: TrustOptions): string[] {
  const args: string[] = [];
  for (const k of t.keyFiles ?? []) args.push('--key', k);
  const pairs: [string, string | undefined][] = [
    ['--certificate-identity', t.certificateIdentity],
    ['--certificate-identity-regexp', t.certificateIdentityRegexp],
    ['--certificate-oidc-issuer', t.certificateOidcIssuer],
    ['--certificate-oidc-issuer-regexp', t.certificateOidcIssuerRegexp],
    ['--trusted-root', t.trustedRoot],
    ['--ca-roots', t.caRoots],
    ['--ca-intermediates', t.caIntermediates],
    ['--timestamp-certificate-chain', t.timestampChain],
  ];
  for (const [flag, value] of pairs) if (value !== undefined) args.push(flag, value);
  if (t.insecureIgnoreTlog === true) args.push('--insecure-ignore-tlog');
  if (t.insecureIgnoreSct === true) args.push('--insecure-ignore-sct');
  return args;
}
