import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { listenOnHost } from '../../local/listen';
import { ensureLocalTls } from '../../local/tls';

function get(port: number, ca?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path: '/', ca, timeout: 5000 }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

describe('local CA and certificate (npm run local-cert)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-tls-'));

  test('creates a CA-signed certificate for 127.0.0.1 and localhost, server-auth only', async () => {
    const tls = await ensureLocalTls(dir);
    expect(tls.created).toBe(true);
    const leaf = new X509Certificate(tls.cert);
    const ca = new X509Certificate(tls.ca);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkHost('example.com')).toBeUndefined();
    expect(leaf.ca).toBe(false);
    expect(ca.ca).toBe(true);
    expect(leaf.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeLessThan(398 * 24 * 3600 * 1000);
    expect(fs.statSync(tls.keyFile).mode & 0o077).toBe(0);
  });

  test('is reused while valid, and renewed when about to expire', async () => {
    const again = await ensureLocalTls(dir);
    expect(again.created).toBe(false);
    const later = await ensureLocalTls(dir, new Date(Date.now() + 380 * 24 * 3600 * 1000));
    expect(later.created).toBe(true);
  });

  test('a real HTTPS server with it is trusted with the CA file, and refused without', async () => {
    const tls = await ensureLocalTls(dir);
    const server = https.createServer({ cert: tls.cert, key: tls.key }, (_req, res) =>
      res.end('hello'),
    );
    const port = await listenOnHost(server, 0);
    try {
      await expect(get(port, tls.ca)).resolves.toBe('hello');
      await expect(get(port)).rejects.toThrow(/self[- ]signed|unable to verify|local issuer/i);
    } finally {
      server.close();
    }
  });
});
