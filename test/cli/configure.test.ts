import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { credentialProcessLine, quotePath, upsertSections } from '../../cli/aws-config';
import { shellWord } from '../../cli/configure';
import { FakeBroker } from '../support/fake-broker';
import { CliHarness, eachTestWithBroker } from '../support/cli-harness';

const posix = process.platform !== 'win32';

/** Someone's config file, with sections and comments the command must not touch. */
const EXISTING = `# my AWS config
[default]
region = us-east-1   # trailing comment

[profile work]
sso_session = corp
; the SSO session for work
[sso-session corp]
sso_start_url = https://corp.awsapps.example/start
`;

describe('wif-login configure', () => {
  let broker: FakeBroker;
  let cli: CliHarness;
  let commandPath: string;
  const execPath = '/opt/node 20/bin/node';

  eachTestWithBroker((b, c) => {
    broker = b;
    cli = c;
    commandPath = path.join(cli.dir, 'my tools', 'wif-login.cjs');
  });

  const configure = (argv: string[] = []) =>
    cli.run(['configure', '--provider', 'google', ...argv], { commandPath, execPath });

  it('adds its profile and keeps every other section and comment byte for byte', async () => {
    fs.mkdirSync(path.dirname(cli.configFile), { recursive: true });
    fs.writeFileSync(cli.configFile, EXISTING);
    const run = await configure();
    expect(run.code).toBe(0);
    expect(run.opened).toHaveLength(1); // no cache yet: it signed in first
    const line = `"${execPath}" "${commandPath}" credentials --endpoint ${broker.endpoint} --provider google`;
    expect(fs.readFileSync(cli.configFile, 'utf8')).toBe(
      `${EXISTING}\n[profile wif-google]\nregion = eu-west-1\ncredential_process = ${line}\n`,
    );
    expect(run.stderr).toContain(`Wrote profile wif-google to ${cli.configFile}.`);
    expect(run.stderr).toContain(
      'aws --profile wif-google s3 ls s3://wif-test-bucket/users/google/subject-1/',
    );
    expect(run.stdout).toBe('');
  });

  it('replaces its own section on a second run, where it stands, using the cache', async () => {
    fs.mkdirSync(path.dirname(cli.configFile), { recursive: true });
    fs.writeFileSync(cli.configFile, EXISTING);
    await configure();
    // Someone appends a section after ours.
    fs.appendFileSync(cli.configFile, '\n# later\n[profile later]\nregion = ap-south-1\n');
    const before = fs.readFileSync(cli.configFile, 'utf8');

    const again = await configure(['--no-browser']);
    expect(again.code).toBe(0);
    expect(again.opened).toEqual([]); // the cache was fresh: no second sign-in
    const after = fs.readFileSync(cli.configFile, 'utf8');
    expect(after.match(/\[profile wif-google\]/g)).toHaveLength(1);
    expect(after).toBe(
      before.replace(/(credential_process = .*--provider google)\n/, '$1 --no-browser\n'),
    );
    expect(after.endsWith('[profile later]\nregion = ap-south-1\n')).toBe(true);
  });

  it('creates a missing config file 0600 in a 0700 directory', async () => {
    const run = await configure(['--profile', 'files']);
    expect(run.code).toBe(0);
    const text = fs.readFileSync(cli.configFile, 'utf8');
    expect(text.startsWith('[profile files]\nregion = eu-west-1\ncredential_process = ')).toBe(
      true,
    );
    if (posix) {
      expect(fs.statSync(cli.configFile).mode & 0o777).toBe(0o600);
      expect(fs.statSync(path.dirname(cli.configFile)).mode & 0o777).toBe(0o700);
    }
  });

  it('for the sandbox, adds ca_bundle and an S3 services section, and shows --endpoint-url', async () => {
    broker.s3Endpoint = 'http://127.0.0.1:4569';
    const ca = path.join(cli.dir, 'sandbox ca.pem');
    fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    // An http endpoint never uses the CA, so this file needs to be no real certificate.
    const run = await cli.run(['configure', '--ca', 'sandbox ca.pem'], { commandPath, execPath });
    expect(run.code).toBe(0);
    expect(fs.readFileSync(cli.configFile, 'utf8')).toBe(
      [
        '[profile wif-default]',
        'region = eu-west-1',
        `credential_process = "${execPath}" "${commandPath}" credentials --endpoint ${broker.endpoint} --ca "${ca}"`,
        `ca_bundle = ${ca}`,
        'services = wif-default-services',
        '',
        '[services wif-default-services]',
        's3 =',
        '  endpoint_url = http://127.0.0.1:4569',
        '  addressing_style = path',
        '',
      ].join('\n'),
    );
    expect(run.stderr).toContain(
      'aws --profile wif-default --endpoint-url http://127.0.0.1:4569 s3 ls s3://wif-test-bucket/',
    );
  });

  it('refuses to run from source (a .ts file) before signing in, pointing at the built command', async () => {
    const run = await cli.run(['configure'], {
      commandPath: path.join(cli.dir, 'cli', 'wif-login.ts'),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'configure needs the built command: run `npm run login -- configure ...`',
    );
    expect(run.stderr).toContain(`${broker.endpoint}/cli/wif-login.cjs`);
    expect(broker.authorizeRequests).toHaveLength(0);
    expect(fs.existsSync(cli.configFile)).toBe(false);
  });

  it('refuses a command path the profile cannot carry before signing in', async () => {
    const run = await cli.run(['configure'], { commandPath: path.join(cli.dir, '$x', 'w.cjs') });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot carry');
    expect(broker.authorizeRequests).toHaveLength(0);
  });

  it('quotes example S3 URLs that a shell would split', () => {
    expect(shellWord('s3://b/users/google/123/')).toBe('s3://b/users/google/123/');
    expect(shellWord("s3://b/users/oidc/auth0|1 o'k/")).toBe(
      "'s3://b/users/oidc/auth0|1 o'\\''k/'",
    );
  });

  (posix ? it : it.skip)('quotes paths so a shell splits the line into the right words', () => {
    const line = credentialProcessLine({
      execPath,
      commandPath: '/tmp/my tools/wif-login.cjs',
      endpoint: 'https://files.example.com',
      provider: 'google',
      caPath: '/tmp/a b/ca.pem',
      platform: 'linux',
    });
    const words = execFileSync('sh', ['-c', `printf '%s\\n' ${line}`], { encoding: 'utf8' });
    expect(words.trimEnd().split('\n')).toEqual([
      execPath,
      '/tmp/my tools/wif-login.cjs',
      'credentials',
      '--endpoint',
      'https://files.example.com',
      '--provider',
      'google',
      '--ca',
      '/tmp/a b/ca.pem',
    ]);
  });

  it('refuses paths a shell would still interpret inside double quotes', () => {
    for (const bad of ['/tmp/a"b', '/tmp/$HOME', '/tmp/a`id`', '/tmp/a\\b', '/tmp/a\nb']) {
      expect(() => quotePath(bad, 'linux')).toThrow('cannot carry');
    }
    expect(quotePath('C:\\Program Files\\nodejs\\node.exe', 'win32')).toBe(
      '"C:\\Program Files\\nodejs\\node.exe"',
    );
  });
});

describe('upsertSections', () => {
  const ours = [{ name: 'profile p', lines: ['[profile p]', 'region = r2'] }];

  it('replaces a section whose header is spelled loosely, keeping its trailing comments', () => {
    const text = '[ profile   p ] ; old\nregion = r1\n# about the next one\n\n[profile q]\nx = 1\n';
    expect(upsertSections(text, ours)).toBe(
      '[profile p]\nregion = r2\n# about the next one\n\n[profile q]\nx = 1\n',
    );
  });

  it('drops duplicate copies of its section', () => {
    const text = '[profile p]\na = 1\n[profile q]\n[profile p]\nb = 2\n';
    expect(upsertSections(text, ours)).toBe('[profile p]\nregion = r2\n[profile q]\n');
  });

  it('keeps CRLF line ends, and a file without a final newline', () => {
    expect(upsertSections('[default]\r\nregion = x\r\n', ours)).toBe(
      '[default]\r\nregion = x\r\n\r\n[profile p]\r\nregion = r2\r\n',
    );
    expect(upsertSections('[default]\nregion = x', ours)).toBe(
      '[default]\nregion = x\n\n[profile p]\nregion = r2\n',
    );
    expect(upsertSections('', ours)).toBe('[profile p]\nregion = r2\n');
  });

  it('does not take a similar name for its own', () => {
    const text = '[profile p2]\na = 1\n[profilep]\nb = 2\n';
    expect(upsertSections(text, ours)).toBe(`${text}\n[profile p]\nregion = r2\n`);
  });
});
