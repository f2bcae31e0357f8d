import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { parseTokenResponse } from '../../cli/token';
import { createLocalTls } from '../../local/tls';
import { FakeBroker } from '../support/fake-broker';
import { CliHarness, eachTestWithBroker, secretsOf } from '../support/cli-harness';

const VALID = {
  provider: 'google',
  bucket: 'wif-test-bucket',
  region: 'eu-west-1',
  prefix: 'users/google/123/',
  credentials: {
    Version: 1,
    AccessKeyId: 'ASIAEXAMPLE',
    SecretAccessKey: 'secret',
    SessionToken: 'token',
    Expiration: '2030-01-01T00:00:00Z',
  },
};

describe('wif-login: redeeming the code', () => {
  let broker: FakeBroker;
  let cli: CliHarness;

  eachTestWithBroker((b, c) => {
    broker = b;
    cli = c;
  });

  it("shows the app's error_description for a 400 and caches nothing", async () => {
    broker.forced = {
      status: 400,
      body: { error: 'invalid_grant', error_description: 'The code expired; sign in again.' },
    };
    const run = await cli.run(['credentials']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      'The app refused the sign-in: The code expired; sign in again. (invalid_grant)',
    );
    expect(cli.cacheFiles()).toEqual([]);
  });

  it('a PKCE verifier the app does not accept fails with its reason', async () => {
    // The broker checks s256(code_verifier) against the challenge; a code redeemed twice
    // (or with another verifier) is refused, as the app does.
    const run = await cli.run(['login'], {
      openBrowser: (url) => {
        const tampered = new URL(url);
        tampered.searchParams.set('code_challenge', 'A'.repeat(43));
        cli.browser(tampered.toString());
      },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('The code verifier does not match the code challenge.');
  });

  it('says the status and to try again for other answers', async () => {
    broker.forced = { status: 503, body: { message: 'busy' } };
    const run = await cli.run(['login']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('The app answered 503 to the token request');
    expect(run.stderr).toContain('try again');
  });

  it('refuses a 200 that is not a valid token response, naming the field but no value', async () => {
    broker.forced = {
      status: 200,
      body: { ...VALID, credentials: { ...VALID.credentials, SessionToken: '' } },
    };
    const run = await cli.run(['credentials']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('"credentials.SessionToken" is missing or malformed');
    expect(run.stderr).not.toContain('ASIAEXAMPLE');
    expect(cli.cacheFiles()).toEqual([]);
  });

  it('gives up on a token request that does not answer in time', async () => {
    broker.forced = { status: 0, body: null, hang: true };
    const run = await cli.run(['login'], { tokenTimeoutMs: 200 });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('/cli/token did not answer within 200 ms; try again.');
  });

  it('sends exactly grant_type, code, code_verifier and redirect_uri as a form', async () => {
    await cli.run(['login']);
    const form = broker.tokenRequests[0];
    expect([...form.keys()].sort()).toEqual([
      'code',
      'code_verifier',
      'grant_type',
      'redirect_uri',
    ]);
    expect(secretsOf(broker)).toHaveLength(3);
  });
});

describe('parseTokenResponse', () => {
  it('accepts the contract and keeps only its fields', () => {
    expect(parseTokenResponse({ ...VALID, extra: 1 })).toEqual(VALID);
    const sandbox = { ...VALID, s3Endpoint: 'http://127.0.0.1:4569' };
    expect(parseTokenResponse(sandbox)).toEqual(sandbox);
  });

  it.each([
    ['Version 2', { ...VALID, credentials: { ...VALID.credentials, Version: 2 } }],
    [
      'an unparsable Expiration',
      { ...VALID, credentials: { ...VALID.credentials, Expiration: 'soon' } },
    ],
    ['a key with a space', { ...VALID, credentials: { ...VALID.credentials, AccessKeyId: 'A B' } }],
    // Values written into the AWS config file must not carry a line break.
    ['a region with a line break', { ...VALID, region: 'eu-west-1\ncredential_process = x' }],
    ['a prefix with a line break', { ...VALID, prefix: 'users/x/\n[profile x]' }],
    ['a non-http s3Endpoint', { ...VALID, s3Endpoint: 'file:///etc/passwd' }],
    ['a provider that is not a name', { ...VALID, provider: 'Google Inc' }],
    ['no credentials', { ...VALID, credentials: undefined }],
    ['null', null],
  ])('refuses %s', (_name, value) => {
    expect(() => parseTokenResponse(value)).toThrow(/is missing or malformed/);
  });
});

describe('wif-login --ca: an https endpoint with a private CA (the sandbox)', () => {
  let broker: FakeBroker;
  let cli: CliHarness;
  let caFile: string;
  let ca: string;

  beforeAll(async () => {
    const tls = await createLocalTls();
    ca = tls.ca;
    broker = await FakeBroker.start({ cert: tls.cert + tls.ca, key: tls.key });
  });
  beforeEach(() => {
    cli = new CliHarness(broker);
    caFile = path.join(cli.dir, 'local ca.pem');
    fs.writeFileSync(caFile, ca);
    // The browser trusts the CA too; it follows the app's redirect to the loopback server.
    cli.browser = (url) => {
      https.get(url, { ca, agent: false }, (res) => {
        res.resume();
        if (res.headers.location) void fetch(res.headers.location).catch(() => undefined);
      });
    };
  });
  afterEach(() => cli.cleanup());
  afterAll(() => broker.close());

  it('refuses the untrusted certificate without --ca, naming the fix (cli-https-endpoints-only)', async () => {
    const run = await cli.run(['login']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('TLS certificate is not trusted');
    expect(run.stderr).toContain('--ca');
  });

  it('signs in with --ca, and a missing or non-PEM --ca file is a usage error', async () => {
    const run = await cli.run(['login', '--ca', 'local ca.pem']);
    expect(run.code).toBe(0);
    expect(broker.issued).toHaveLength(1);

    const missing = await cli.run(['login', '--ca', 'nope.pem']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(
      `--ca ${path.join(cli.dir, 'nope.pem')} cannot be read (ENOENT)`,
    );
    fs.writeFileSync(path.join(cli.dir, 'key.pem'), 'not a certificate');
    const garbage = await cli.run(['login', '--ca', 'key.pem']);
    expect(garbage.code).toBe(2);
    expect(garbage.stderr).toContain('is not a PEM certificate');
  });
});
