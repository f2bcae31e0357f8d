import 'reflect-metadata';
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';

/**
 * A local certificate authority and one server certificate for 127.0.0.1 and
 * localhost, so every sandbox server speaks HTTPS (Secure cookies, Login with Amazon
 * and modern browsers need it). Clients trust the CA file, never "insecure" flags.
 */

export interface LocalTls {
  readonly dir: string;
  /** PEM of the CA certificate: give this to clients (NODE_EXTRA_CA_CERTS, AWS_CA_BUNDLE). */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;
export const LOCAL_HOSTS = { ips: ['127.0.0.1'], dns: ['localhost'] };

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

async function pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trim()}\n-----END PRIVATE KEY-----\n`;
}

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');

/** Creates a fresh CA and a server certificate (in memory). */
export async function createLocalTls(
  now = new Date(),
): Promise<{ ca: string; cert: string; key: string }> {
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=Web identity federation sandbox CA, O=local development only',
    notBefore: new Date(now.getTime() - DAY),
    notAfter: new Date(now.getTime() + 3650 * DAY),
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const serverKeys = (await webcrypto.subtle.generateKey(ALG, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const serverCert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=127.0.0.1',
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - DAY),
    // Browsers refuse server certificates valid for more than 398 days.
    notAfter: new Date(now.getTime() + 397 * DAY),
    signingAlgorithm: ALG,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        ...LOCAL_HOSTS.ips.map((value) => ({ type: 'ip' as const, value })),
        ...LOCAL_HOSTS.dns.map((value) => ({ type: 'dns' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return {
    ca: caCert.toString('pem').trim() + '\n',
    cert: serverCert.toString('pem').trim() + '\n',
    key: await pem(serverKeys.privateKey),
  };
}

/**
 * Returns the CA and certificate in `dir`, creating them when missing, expiring within
 * 30 days, or not issued by the stored CA.
 */
export async function ensureLocalTls(
  dir: string,
  now = new Date(),
): Promise<LocalTls & { created: boolean }> {
  const caFile = path.join(dir, 'ca.pem');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  const existing = readValid(caFile, certFile, keyFile, now);
  if (existing) return { dir, caFile, certFile, keyFile, ...existing, created: false };
  const fresh = await createLocalTls(now);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(caFile, fresh.ca);
  fs.writeFileSync(certFile, fresh.cert + fresh.ca);
  fs.writeFileSync(keyFile, fresh.key, { mode: 0o600 });
  return {
    dir,
    caFile,
    certFile,
    keyFile,
    ca: fresh.ca,
    cert: fresh.cert + fresh.ca,
    key: fresh.key,
    created: true,
  };
}

function readValid(caFile: string, certFile: string, keyFile: string, now: Date) {
  try {
    const ca = fs.readFileSync(caFile, 'utf8');
    const cert = fs.readFileSync(certFile, 'utf8');
    const key = fs.readFileSync(keyFile, 'utf8');
    const caCert = new NodeX509(ca);
    const leaf = new NodeX509(cert);
    const soon = now.getTime() + 30 * DAY;
    if (!leaf.verify(caCert.publicKey)) return undefined;
    if (new Date(leaf.validFrom) > now || new Date(leaf.validTo).getTime() < soon) return undefined;
    if (!leaf.checkIP('127.0.0.1') || !leaf.checkHost('localhost')) return undefined;
    return { ca, cert, key };
  } catch {
    return undefined;
  }
}
