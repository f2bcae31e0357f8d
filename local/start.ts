import * as path from 'node:path';
import { DEFAULT_PORTS, type SandboxPorts } from './sandbox-config';
import { PortsBusyError, startSandbox } from './sandbox';
import { SDK_EXAMPLE_PATHS } from './sdk-example/routes';

/**
 * `npm start [-- --reset] [-- --data-dir <dir>]`: the sandbox. Serves until Ctrl-C.
 * SANDBOX_PORT_BASE=<n> moves the four ports to n..n+3.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter(
    (a, i) => !['--reset', '--data-dir', '--verbose'].includes(a) && args[i - 1] !== '--data-dir',
  );
  if (unknown.length > 0) {
    console.error(
      `unknown argument(s): ${unknown.join(' ')}\nusage: npm start [-- --reset] [-- --data-dir <dir>] [-- --verbose]`,
    );
    return 2;
  }
  const dirArg = args.indexOf('--data-dir');
  const dataDir = path.resolve(
    dirArg >= 0 ? args[dirArg + 1] : path.join(__dirname, '..', '.sandbox-data'),
  );
  const base = process.env.SANDBOX_PORT_BASE ? Number(process.env.SANDBOX_PORT_BASE) : undefined;
  if (base !== undefined && !(Number.isInteger(base) && base >= 1024 && base <= 65532)) {
    console.error(
      `SANDBOX_PORT_BASE must be a port from 1024 to 65532, got ${process.env.SANDBOX_PORT_BASE}`,
    );
    return 2;
  }
  const ports: SandboxPorts = base
    ? { app: base, idp: base + 1, sts: base + 2, s3: base + 3 }
    : DEFAULT_PORTS;
  const verbose = args.includes('--verbose');
  console.log(
    `Starting the sandbox (synthesizing the CDK app with the sandbox stage, data in ${dataDir})...`,
  );
  const started = Date.now();
  let sandbox;
  try {
    sandbox = await startSandbox({
      dataDir,
      ports,
      reset: args.includes('--reset'),
      log: verbose ? (e) => console.log(JSON.stringify(e)) : undefined,
    });
  } catch (err) {
    if (err instanceof PortsBusyError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const { urls, tls, roleArns, bucket } = sandbox;
  console.log(`
Sandbox ready in ${((Date.now() - started) / 1000).toFixed(1)} s. Open the app:

  ${urls.app}/

Sign in with any provider as any user name (try alice, then bob in a private window).
Then see the AWS SDK call S3 from a page with your own credentials:

  ${urls.app}${SDK_EXAMPLE_PATHS.page}

Your browser will warn about the certificate once: it comes from the sandbox's own CA,
  ${tls.caFile}
(trust it for 127.0.0.1, or continue past the warning).

Services (127.0.0.1 only):
  app (local HTTP API + Lambda bundle)  ${urls.app}
  dev IdP                               ${urls.idp}
  STS                                   ${urls.sts}
  S3                                    ${urls.s3}   bucket ${bucket}

Roles (enforced exactly as synthesized):
${Object.entries(roleArns)
  .map(([p, arn]) => `  ${p.padEnd(9)} ${arn}`)
  .join('\n')}

The AWS CLI, boto3 and the SDKs with your own credentials (sign in through the browser):
  npm run login -- configure --endpoint ${urls.app} --provider google --ca ${tls.caFile}
  AWS_CA_BUNDLE=${tls.caFile} aws --profile wif-google --endpoint-url ${urls.s3} \\
    s3 ls s3://${bucket}/users/google/<sub>/     # the prefix: npm run login -- whoami ...

Or with a dev IdP token and STS by hand:
  export AWS_CA_BUNDLE=${tls.caFile} AWS_REGION=us-east-1
  TOKEN=$(npm run -s sandbox:token -- --provider google --user alice)
  aws sts assume-role-with-web-identity --endpoint-url ${urls.sts} \\
    --role-arn ${roleArns.google} --role-session-name alice --web-identity-token "$TOKEN"
  # then with the returned credentials:
  aws s3 cp ./file.txt s3://${bucket}/users/google/<sub>/file.txt --endpoint-url ${urls.s3}

Ctrl-C stops the sandbox; data stays in ${dataDir} (npm start -- --reset wipes it).`);

  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  console.log('\nStopping the sandbox...');
  await sandbox.close();
  console.log('Stopped.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
