import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_REFRESH_MARGIN_MS, loopbackRedirectUri, s256 } from '../../common/cli-protocol';
import { FakeBroker } from '../support/fake-broker';
import { CliHarness, eachTestWithBroker, secretsOf } from '../support/cli-harness';

const HOUR = 3600_000;

describe('wif-login: loopback sign-in, cache and credentials', () => {
  let broker: FakeBroker;
  let cli: CliHarness;

  eachTestWithBroker((b, c) => {
    broker = b;
    cli = c;
    cli.expireIn(HOUR);
  });

  it('login signs in through the loopback redirect with PKCE S256 and caches 0600 in a 0700 directory', async () => {
    const login = await cli.run(['login', '--provider', 'google']);
    expect(login.code).toBe(0);
    expect(login.stdout).toBe('');

    // The URL the browser was asked to open is also printed, for opening by hand.
    expect(login.opened).toHaveLength(1);
    const authorize = new URL(login.opened[0]);
    expect(login.stderr).toContain(`Open this URL to sign in: ${authorize}`);
    expect(authorize.origin + authorize.pathname).toBe(`${broker.endpoint}/cli/authorize`);
    const query = authorize.searchParams;
    expect(query.get('code_challenge_method')).toBe('S256');
    expect(query.get('provider')).toBe('google');
    expect(query.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // The token request proves the verifier behind the challenge, for the same loopback URI.
    const [form] = broker.tokenRequests;
    const verifier = form.get('code_verifier') as string;
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s256(verifier)).toBe(query.get('code_challenge'));
    expect(form.get('grant_type')).toBe('authorization_code');
    expect(form.get('redirect_uri')).toBe(loopbackRedirectUri(Number(query.get('port'))));
    // verifier-stays-local: it never appears in the URL the browser sees.
    expect(login.opened[0]).not.toContain(verifier);

    const [file] = cli.cacheFiles();
    expect(file).toMatch(/^[0-9a-f]{64}\.json$/);
    if (process.platform !== 'win32') {
      expect(fs.statSync(cli.cacheDir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.join(cli.cacheDir, file)).mode & 0o777).toBe(0o600);
    }
    const cached = JSON.parse(fs.readFileSync(path.join(cli.cacheDir, file), 'utf8'));
    expect(cached).toEqual({ endpoint: broker.endpoint, ...broker.issued[0] });

    // The summary says who and where, never the keys.
    for (const text of ['google', 'wif-test-bucket', 'eu-west-1', 'users/google/subject-1/']) {
      expect(login.stderr).toContain(text);
    }
    expect(login.stderr).toContain(broker.issued[0].credentials.Expiration);
    for (const secret of secretsOf(broker)) expect(login.stderr).not.toContain(secret);
  });

  it('credentials prints exactly the credential_process JSON on stdout, from the cache', async () => {
    await cli.run(['login']);
    const run = await cli.run(['credentials']);
    expect(run.code).toBe(0);
    expect(run.opened).toEqual([]);
    const c = broker.issued[0].credentials;
    expect(run.stdout).toBe(
      `{"Version":1,"AccessKeyId":"${c.AccessKeyId}","SecretAccessKey":"${c.SecretAccessKey}","SessionToken":"${c.SessionToken}","Expiration":"${new Date(c.Expiration).toISOString()}"}\n`,
    );
    expect(run.stderr).toBe('');
  });

  it('credentials reuses the cache while more than 5 minutes are left, and signs in again after (cli-cache-private)', async () => {
    await cli.run(['login']);
    expect(broker.issued).toHaveLength(1);

    cli.t += HOUR - CLI_REFRESH_MARGIN_MS - 1; // 5 minutes and 1 ms left
    const reused = await cli.run(['credentials']);
    expect(reused.opened).toEqual([]);
    expect(broker.tokenRequests).toHaveLength(1);
    expect(JSON.parse(reused.stdout).AccessKeyId).toBe(broker.issued[0].credentials.AccessKeyId);

    cli.t += 1; // exactly 5 minutes left: time to sign in again
    cli.expireIn(HOUR);
    const renewed = await cli.run(['credentials']);
    expect(renewed.code).toBe(0);
    expect(renewed.opened).toHaveLength(1);
    expect(broker.issued).toHaveLength(2);
    const printed = JSON.parse(renewed.stdout);
    expect(printed.AccessKeyId).toBe(broker.issued[1].credentials.AccessKeyId);
    expect(printed.SessionToken).toBe(broker.issued[1].credentials.SessionToken);
    // Prompts went to stderr; stdout is the JSON alone.
    expect(renewed.stdout.trim().split('\n')).toHaveLength(1);
    expect(renewed.stderr).toContain('Open this URL to sign in: ');
    for (const secret of secretsOf(broker)) expect(renewed.stderr).not.toContain(secret);

    // And the new ones are cached for the next call.
    const again = await cli.run(['credentials']);
    expect(again.opened).toEqual([]);
    expect(JSON.parse(again.stdout).AccessKeyId).toBe(printed.AccessKeyId);
  });

  it('credentials without a cache runs the sign-in, with prompts only on stderr', async () => {
    const run = await cli.run(['credentials']);
    expect(run.code).toBe(0);
    expect(run.opened).toHaveLength(1);
    expect(Object.keys(JSON.parse(run.stdout))).toEqual([
      'Version',
      'AccessKeyId',
      'SecretAccessKey',
      'SessionToken',
      'Expiration',
    ]);
    expect(cli.cacheFiles()).toHaveLength(1);
    for (const secret of secretsOf(broker)) expect(run.stderr).not.toContain(secret);
  });

  it('caches per provider: another --provider signs in on its own', async () => {
    await cli.run(['login', '--provider', 'google']);
    const other = await cli.run(['credentials', '--provider', 'amazon']);
    expect(other.opened).toHaveLength(1);
    expect(new URL(other.opened[0]).searchParams.get('provider')).toBe('amazon');
    expect(cli.cacheFiles()).toHaveLength(2);
    const google = await cli.run(['credentials', '--provider', 'google']);
    expect(google.opened).toEqual([]);
    expect(JSON.parse(google.stdout).AccessKeyId).toBe(broker.issued[0].credentials.AccessKeyId);
  });

  it('whoami shows the cached sign-in (text and --json); without one it says so and exits 1', async () => {
    const none = await cli.run(['whoami']);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain('Not signed in');
    expect(none.stderr).toContain(`wif-login login --endpoint ${broker.endpoint}`);

    broker.s3Endpoint = 'http://127.0.0.1:4569';
    await cli.run(['login']);
    const text = await cli.run(['whoami']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('bucket:      wif-test-bucket');
    expect(text.stdout).toContain('s3 endpoint: http://127.0.0.1:4569');
    expect(text.stdout).toContain('(in 60 minutes)');
    const json = await cli.run(['whoami', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      provider: 'google',
      bucket: 'wif-test-bucket',
      region: 'eu-west-1',
      prefix: 'users/google/subject-1/',
      s3Endpoint: 'http://127.0.0.1:4569',
      expiration: new Date(cli.t + HOUR).toISOString(),
    });
    for (const secret of secretsOf(broker)) {
      expect(text.stdout + json.stdout + text.stderr).not.toContain(secret);
    }
    expect(broker.tokenRequests).toHaveLength(1); // whoami never signs in

    cli.t += HOUR;
    expect((await cli.run(['whoami'])).code).toBe(1);
  });

  it('logout removes the cache entry and says the credentials stay valid until they expire', async () => {
    await cli.run(['login']);
    const out = await cli.run(['logout']);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain('stays valid until it expires');
    expect(out.stderr).toContain(broker.issued[0].credentials.Expiration);
    expect(cli.cacheFiles()).toEqual([]);
    expect((await cli.run(['whoami'])).code).toBe(1);
    const again = await cli.run(['logout']);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('nothing to remove');
  });
});
