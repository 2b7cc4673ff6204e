// The session's Auth service (moby.filesync.v1.Auth): how BuildKit gets registry
// credentials from the client that started the build.
// - Credentials: username and secret for a host (basic-auth registries, and bearer ones on
//   daemons that fetch tokens themselves).
// - GetTokenAuthority / FetchToken: BuildKit v0.8+ asks a bearer registry's client for an
//   ed25519 "token authority" key first; a client that gives one then fetches every token
//   itself, so the secret never reaches the daemon.
// - VerifyTokenAuthority: a later session proves it holds the same credentials by signing
//   the daemon's payload, which lets the daemon reuse tokens across sessions.
// The authority key is HMAC-SHA256(salt, seed) as BuildKit's own client derives it: the
// salt is the daemon's (new at every daemon start), the seed a random one per host of this
// session, mixed in only when there is a secret (anonymous sessions share one key per salt).
import { createHmac, createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Msg } from './rpc.js';
import type { RegistryAuthProvider } from './types.js';

/** DER header of a PKCS#8 Ed25519 private key; the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The Ed25519 private key whose seed is `seed` (32 bytes). */
export function ed25519FromSeed(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** The raw 32-byte Ed25519 public key of a private key. */
export function ed25519PublicKey(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32);
}

/** NaCl's `sign`: the 64-byte signature, then the message. */
export function naclSign(key: KeyObject, message: Uint8Array): Buffer {
  return Buffer.concat([sign(null, message, key), message]);
}

function bytes(v: unknown): Buffer {
  return v instanceof Uint8Array ? Buffer.from(v) : Buffer.alloc(0);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

type Handler = (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => void;

/** A handler answering with `answer`'s result, or its error's message as the gRPC status. */
function unary(answer: (request: Msg) => Promise<Msg>): Handler {
  return (call, cb) => {
    answer(call.request).then(
      (res) => cb(null, res),
      (err: unknown) => cb({ code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) }),
    );
  };
}

/**
 * The Auth service's handlers. Without a provider the daemon gets empty credentials (it
 * pulls anonymously) and no token authority (it fetches anonymous tokens itself).
 */
export function authServiceHandlers(provider: RegistryAuthProvider | undefined): grpc.UntypedServiceImplementation {
  if (provider === undefined) {
    const unimplemented: Handler = (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: 'no registry credentials in this session' });
    return {
      Credentials: ((_call, cb) => cb(null, {})) as Handler,
      FetchToken: unimplemented,
      GetTokenAuthority: unimplemented,
      VerifyTokenAuthority: unimplemented,
    };
  }
  const seeds = new Map<string, Buffer>();
  const seedOf = (host: string): Buffer => {
    let seed = seeds.get(host);
    if (seed === undefined) seeds.set(host, (seed = randomBytes(32)));
    return seed;
  };
  const authorityKey = async (host: string, salt: Buffer): Promise<KeyObject> => {
    const creds = await provider.credentials(host);
    const mac = createHmac('sha256', salt);
    if (creds !== undefined && creds.secret !== '') mac.update(seedOf(host));
    return ed25519FromSeed(mac.digest());
  };
  return {
    Credentials: unary(async (req) => {
      const creds = await provider.credentials(str(req.Host));
      return creds === undefined ? {} : { Username: creds.username, Secret: creds.secret };
    }),
    GetTokenAuthority: unary(async (req) => ({ PublicKey: ed25519PublicKey(await authorityKey(str(req.Host), bytes(req.Salt))) })),
    VerifyTokenAuthority: unary(async (req) => ({ Signed: naclSign(await authorityKey(str(req.Host), bytes(req.Salt)), bytes(req.Payload)) })),
    FetchToken: unary(async (req) => {
      const token = await provider.fetchToken({
        host: str(req.Host),
        realm: str(req.Realm),
        service: str(req.Service),
        scopes: Array.isArray(req.Scopes) ? req.Scopes.map(String) : [],
      });
      return {
        Token: token.token,
        ...(token.expiresIn === undefined ? {} : { ExpiresIn: String(token.expiresIn) }),
        ...(token.issuedAt === undefined ? {} : { IssuedAt: String(token.issuedAt) }),
      };
    }),
  };
}
