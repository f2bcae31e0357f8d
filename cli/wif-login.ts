/**
 * wif-login: signs in at a deployed endpoint from the command line and hands the user's
 * temporary AWS credentials to the AWS CLI and SDKs (credential_process). The commands are
 * in main.ts; docs/cli-sign-in.md describes the flow.
 *
 * Bundled into one CommonJS file (`wif-login.cjs`), `__filename` is that file: configure
 * writes it into the profile's credential_process. Run from source it is this `.ts` file.
 */
import { main } from './main';

void main(process.argv.slice(2), { commandPath: __filename }).then((code) => {
  process.exitCode = code;
});
