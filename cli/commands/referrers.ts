// `tracebuild referrers IMAGE [--json]`: what is attached to an image, as a tree. IMAGE is
// resolved to its manifest digest in the registry; its referrers are listed through the
// referrers API, else the sha256-<hex> tag-schema index; each referrer's own referrers are
// listed below it (a signature on an attestation, say), to MAX_DEPTH levels.
//
// Each referrer's manifest is fetched by digest and decides what it is (the index entry's
// artifactType and annotations are not trusted). For Sigstore bundles it shows the predicate
// type the bundle's statement declares (else the manifest's annotation) and the signing key
// id, read from the bundle's `verificationMaterial.publicKey.hint` (ours in hex, cosign's in
// base64), or that a certificate signed it. Nothing here is verified: that is
// `tracebuild verify`.

import type { Descriptor, Reference, RegistryClient } from '../../oci/index.js';
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import type { CliCommand } from './command.js';
import { ANNOTATION_CREATED, ANNOTATION_PREDICATE_TYPE, bundleKeyHint, bundleLayerOf, envelopeStatement, parseImageArgument, registryClient } from '../../verify/index.js';

export const MAX_DEPTH = 3;

export interface ReferrersRequest {
  image: string;
  json: boolean;
}

export interface ReferrerNode {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** The `dev.sigstore.bundle.predicateType` annotation. */
  predicateType?: string;
  /** Sigstore bundles: the key hint of the bundle (not verified). */
  keyId?: string;
  /** Sigstore bundles signed with a certificate (keyless, or a CA's) rather than a key. */
  certificate?: boolean;
  /** Why the bundle could not be read (not fatal for the listing). */
  error?: string;
  referrers: ReferrerNode[];
}

export interface ReferrersTree {
  reference: string;
  digest: string;
  mediaType: string;
  referrers: ReferrerNode[];
}


/**
 * What a referrer is, from its manifest fetched by digest (the index's artifactType and
 * annotations are whatever the last writer put there: cosign 2.5 rewrites other tools'
 * entries): a Sigstore bundle when the manifest has one bundle layer.
 */
async function describeReferrer(client: RegistryClient, repo: Reference, d: Descriptor): Promise<ReferrerNode> {
  const node: ReferrerNode = { digest: d.digest, mediaType: d.mediaType, size: d.size, referrers: [] };
  if (d.artifactType !== undefined) node.artifactType = d.artifactType;
  if (d.annotations !== undefined) node.annotations = { ...d.annotations };
  try {
    const fetched = await client.getManifest(repo.withDigest(d.digest));
    if (fetched.bytes.byteLength !== d.size) node.error = `the index says ${d.size} bytes, the manifest is ${fetched.bytes.byteLength}`;
    const manifest = fetched.manifest;
    const declared = typeof manifest.artifactType === 'string' ? manifest.artifactType : (manifest.config as { mediaType?: unknown } | undefined)?.mediaType;
    if (typeof declared === 'string' && declared !== '') node.artifactType = declared;
    const annotations = manifest.annotations as Record<string, string> | undefined;
    if (annotations !== undefined) node.annotations = { ...annotations };
    const layer = bundleLayerOf(manifest);
    if (layer !== undefined) {
      const bytes = await client.fetchBlob(repo, layer.digest);
      const hint = bundleKeyHint(bytes);
      if (hint !== undefined) node.keyId = hint;
      const statement = envelopeStatement(bytes);
      if (typeof statement?.predicateType === 'string') node.predicateType = statement.predicateType;
      if (hint === undefined) {
        if (hasCertificate(bytes)) node.certificate = true;
        else node.error = 'bundle has no key hint and no certificate (not JSON, or not a bundle)';
      }
    } else if ((typeof declared === 'string' ? declared : '').startsWith('application/vnd.dev.sigstore.bundle')) {
      node.error = 'no Sigstore bundle layer';
    }
  } catch (err) {
    node.error = err instanceof Error ? err.message : String(err);
  }
  const predicateType = node.predicateType ?? node.annotations?.[ANNOTATION_PREDICATE_TYPE];
  if (predicateType !== undefined) node.predicateType = predicateType;
  return node;
}

function hasCertificate(bytes: Uint8Array): boolean {
  try {
    const vm = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { verificationMaterial?: { certificate?: unknown; x509CertificateChain?: unknown } }).verificationMaterial;
    return vm?.certificate !== undefined || vm?.x509CertificateChain !== undefined;
  } catch {
    return false;
  }
}

async function walk(client: RegistryClient, repo: Reference, digest: string, depth: number, seen: Set<string>): Promise<ReferrerNode[]> {
  const listed = await client.listReferrers(repo.withDigest(digest));
  const out: ReferrerNode[] = [];
  for (const d of listed) {
    const node = await describeReferrer(client, repo, d);
    if (depth + 1 < MAX_DEPTH && !seen.has(d.digest)) {
      seen.add(d.digest);
      node.referrers = await walk(client, repo, d.digest, depth + 1, seen);
    }
    out.push(node);
  }
  return out;
}

export async function listReferrerTree(client: RegistryClient, ref: Reference): Promise<ReferrersTree> {
  const subject = await client.resolveManifest(ref);
  const repo = ref.withDigest(subject.digest);
  const referrers = await walk(client, repo, subject.digest, 0, new Set([subject.digest]));
  return { reference: ref.toString(), digest: subject.digest, mediaType: subject.mediaType, referrers };
}

function renderNodes(nodes: readonly ReferrerNode[], prefix: string): string[] {
  const lines: string[] = [];
  nodes.forEach((n, i) => {
    const last = i === nodes.length - 1;
    lines.push(`${prefix}${last ? '└── ' : '├── '}${n.digest} ${n.artifactType ?? n.mediaType}`);
    const inner = `${prefix}${last ? '    ' : '│   '}`;
    if (n.predicateType !== undefined) lines.push(`${inner}predicate type: ${n.predicateType}`);
    if (n.keyId !== undefined) lines.push(`${inner}signing key:    ${n.keyId}`);
    if (n.certificate === true) lines.push(`${inner}signed with:    a certificate (see tracebuild verify --certificate-identity)`);
    const created = n.annotations?.[ANNOTATION_CREATED];
    if (created !== undefined) lines.push(`${inner}created:        ${created}`);
    if (n.error !== undefined) lines.push(`${inner}unreadable:     ${n.error}`);
    lines.push(...renderNodes(n.referrers, inner));
  });
  return lines;
}

export function formatReferrerTree(tree: ReferrersTree): string {
  const lines = [tree.reference.includes('@') ? tree.reference : `${tree.reference}@${tree.digest}`];
  if (tree.referrers.length === 0) lines.push('(no referrers)');
  lines.push(...renderNodes(tree.referrers, ''));
  return `${lines.join('\n')}\n`;
}

export async function runReferrers(request: ReferrersRequest, io: CliIo, client: RegistryClient = registryClient(io.env)): Promise<ReferrersTree> {
  const ref = parseImageArgument(request.image, 'referrers');
  const tree = await listReferrerTree(client, ref);
  io.stdout.write(request.json ? `${JSON.stringify(tree, null, 2)}\n` : formatReferrerTree(tree));
  return tree;
}

export const referrersCommand: CliCommand = {
  register(program: Command, { io }) {
    program
      .command('referrers')
      .description("list what is attached to an image in its registry (signed attestations and other tools' artifacts), as a tree")
      .argument('<IMAGE>', 'image reference, e.g. 127.0.0.1:5000/app:v1 or name@sha256:...')
      .option('--json', 'print the tree as JSON')
      .action(async (image: string, flags: { json?: boolean }) => {
        await runReferrers({ image, json: flags.json === true }, io);
      });
  },
};
