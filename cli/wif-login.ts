/**
 * wif-login: signs in at a deployed endpoint from the command line and hands the user's
 * temporary AWS credentials to the AWS CLI and SDKs (credential_process).
 * Placeholder entry; the commands are being built.
 */
process.stderr.write('wif-login: not built yet\n');
process.exitCode = 2;
