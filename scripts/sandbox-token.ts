import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { scriptedSignIn } from '../local/dev-idp-client';
import { DEV_IDP_FAMILIES, type DevIdpFamily } from '../local/dev-idp-endpoints';
import { DEFAULT_PORTS, urlOf } from '../local/sandbox-config';

/**
 * npm run -s sandbox:token -- --provider <google|oidc|amazon|facebook> --user <name>
 *   [--idp <url>] [--ca <file>]
 *
 * Signs <name> in at the running sandbox's dev IdP through the real authorization code
 * flow and prints only the token STS takes (the ID token for google and oidc, the access
 * token for amazon and facebook), so it can go straight into
 * `aws sts assume-role-with-web-identity --web-identity-token "$TOKEN"`.
 */

const USAGE = `usage: npm run -s sandbox:token -- --provider <${DEV_IDP_FAMILIES.join('|')}> --user <name> [--idp <url>] [--ca <file>]
  --idp  the dev IdP (default ${defaultIdp()}; SANDBOX_PORT_BASE moves it like npm start)
  --ca   the sandbox CA certificate (default .sandbox-data/tls/ca.pem)`;

function defaultIdp(): string {
  const base = Number(process.env.SANDBOX_PORT_BASE);
  return urlOf(Number.isInteger(base) && base > 0 ? base + 1 : DEFAULT_PORTS.idp);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        provider: { type: 'string' },
        user: { type: 'string' },
        idp: { type: 'string' },
        ca: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const provider = values.provider as DevIdpFamily | undefined;
  if (!provider || !DEV_IDP_FAMILIES.includes(provider) || !values.user) {
    console.error(
      `${!provider ? '--provider is required' : !DEV_IDP_FAMILIES.includes(provider) ? `unknown provider '${provider}'` : '--user is required'}\n${USAGE}`,
    );
    return 2;
  }
  const caFile = path.resolve(
    values.ca ?? path.join(__dirname, '..', '.sandbox-data', 'tls', 'ca.pem'),
  );
  let ca: string;
  try {
    ca = fs.readFileSync(caFile, 'utf8');
  } catch {
    console.error(
      `no sandbox CA at ${caFile}: start the sandbox first (npm start creates it), or pass --ca <file>`,
    );
    return 1;
  }
  const token = await scriptedSignIn(values.idp ?? defaultIdp(), provider, values.user, { ca });
  process.stdout.write(`${token}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`sandbox:token: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
