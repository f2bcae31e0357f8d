import * as path from 'node:path';
import { ensureLocalTls } from '../local/tls';

/** npm run local-cert [-- <dir>]: creates (or reuses) the sandbox CA and certificate. */
async function main(): Promise<void> {
  const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '.sandbox-data', 'tls'));
  const tls = await ensureLocalTls(dir);
  console.log(`${tls.created ? 'Created' : 'Reusing'} a local CA and a certificate for https://127.0.0.1 and https://localhost:
  CA certificate : ${tls.caFile}
  certificate    : ${tls.certFile}
  private key    : ${tls.keyFile}
Trust the CA in clients, for example:
  NODE_EXTRA_CA_CERTS=${tls.caFile} node ...
  AWS_CA_BUNDLE=${tls.caFile} aws ...
  curl --cacert ${tls.caFile} https://127.0.0.1:<port>/
The CA is for this machine only; never install it in a shared trust store.`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
