// Certificates for the agent's tests, made with openssl in a temporary directory: a CA, a
// server certificate for 127.0.0.1 (IP SAN) and localhost, client certificates signed by
// that CA, and a second CA with a client of its own (which the agent must refuse). Each
// client directory is laid out as the docker client and buildctl expect: ca.pem (the CA
// that signed the server), cert.pem, key.pem.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestPki {
  dir: string;
  /** The CA that signed the server and the trusted clients. */
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** A client directory per name (ca.pem, cert.pem, key.pem). */
  client(name: string): string;
  /** A client whose certificate another CA signed (its ca.pem still trusts the server). */
  foreignClient(name: string): string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  openssl(['req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-out', cert,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  return { cert, key };
}

function issue(dir: string, ca: { cert: string; key: string }, name: string, cn: string, ext: string): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const extFile = path.join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
  openssl(['req', '-new', '-key', key, '-subj', `/CN=${cn}`, '-out', csr], dir);
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '2', '-sha256', '-extfile', extFile, '-out', cert], dir);
  return { cert, key };
}

/** A fresh PKI under `dir` (created). */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const ca = makeCa(dir, 'ca');
  const other = makeCa(dir, 'other-ca');
  const server = issue(dir, ca, 'server', 'tracebuild-agent', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const clientDir = (name: string, signer: { cert: string; key: string }, kind: string): string => {
    const out = path.join(dir, `${kind}-clients`, name);
    mkdirSync(out, { recursive: true });
    const c = issue(dir, signer, `${kind}-client-${name}`, name, 'extendedKeyUsage=clientAuth\n');
    execFileSync('cp', [ca.cert, path.join(out, 'ca.pem')]);
    execFileSync('cp', [c.cert, path.join(out, 'cert.pem')]);
    execFileSync('cp', [c.key, path.join(out, 'key.pem')]);
    return out;
  };
  const made = new Map<string, string>();
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: server.cert,
    serverKey: server.key,
    client: (name) => {
      const key = `trusted:${name}`;
      if (!made.has(key)) made.set(key, clientDir(name, ca, 'trusted'));
      return made.get(key) as string;
    },
    foreignClient: (name) => {
      const key = `foreign:${name}`;
      if (!made.has(key)) made.set(key, clientDir(name, other, 'foreign'));
      return made.get(key) as string;
    },
  };
}
