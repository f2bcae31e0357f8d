import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { formatCheck, formatSummary, parseEndpoint, runSmoke, UsageError } from './smoke-lib';

/**
 * npm run smoke -- https://<endpoint> [--ca <file>] [--timeout <seconds>]
 *
 * Checks a deployed sign-in endpoint from the outside, with no credentials: TLS,
 * security headers, each provider's authorization request, refusal of forged
 * callbacks, sign-out. One PASS/FAIL line per check, then a summary; exits 1 when a
 * check fails, 2 on bad usage.
 */

const USAGE = `usage: npm run smoke -- https://<endpoint> [--ca <file>] [--timeout <seconds>]
  --ca       a PEM CA certificate to trust besides the public roots (the sandbox's
             .sandbox-data/tls/ca.pem); certificate verification is always on
  --timeout  seconds per request (default 10)`;

async function main(): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      options: {
        ca: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`expected exactly one endpoint, got ${positionals.length}\n${USAGE}`);
    return 2;
  }
  const timeoutSeconds = values.timeout === undefined ? 10 : Number(values.timeout);
  if (!(timeoutSeconds > 0 && timeoutSeconds <= 120)) {
    console.error(`--timeout must be a number of seconds in (0, 120], got '${values.timeout}'`);
    return 2;
  }
  let ca: string | undefined;
  if (values.ca !== undefined) {
    try {
      ca = fs.readFileSync(values.ca, 'utf8');
    } catch (err) {
      console.error(`cannot read --ca ${values.ca}: ${(err as Error).message}`);
      return 2;
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
      console.error(`--ca ${values.ca} holds no PEM certificate`);
      return 2;
    }
  }
  let endpoint: URL;
  try {
    endpoint = parseEndpoint(positionals[0]);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n${USAGE}`);
      return 2;
    }
    throw err;
  }

  console.log(`smoke: ${endpoint.origin}${values.ca ? ` (also trusting ${values.ca})` : ''}`);
  const report = await runSmoke({
    endpoint: endpoint.origin,
    ca,
    timeoutMs: timeoutSeconds * 1000,
    onCheck: (check) => console.log(formatCheck(check)),
  });
  if (report.stopped) console.log(`smoke: stopped: ${report.stopped}`);
  console.log(formatSummary(report));
  return report.failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`smoke: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 2;
  },
);
