import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cacheDir, cacheFile } from '../../cli/cache';
import { FakeBroker } from '../support/fake-broker';
import { CliHarness, eachTestWithBroker } from '../support/cli-harness';

const posix = process.platform !== 'win32';

describe('wif-login: the credential cache', () => {
  let broker: FakeBroker;
  let cli: CliHarness;
  /** The one cache file after a first login. */
  let file: string;

  eachTestWithBroker(async (b, c) => {
    broker = b;
    cli = c;
    expect((await cli.run(['login'])).code).toBe(0);
    file = path.join(cli.cacheDir, cli.cacheFiles()[0]);
  });

  it('names the file by the SHA-256 of origin and provider', () => {
    const hash = createHash('sha256').update(`${broker.endpoint}\n`).digest('hex');
    expect(path.basename(file)).toBe(`${hash}.json`);
  });

  (posix ? it : it.skip)(
    'ignores an entry others can read (0644) and replaces it with a 0600 one (cli-cache-private)',
    async () => {
      fs.chmodSync(file, 0o644);
      const run = await cli.run(['credentials']);
      expect(run.code).toBe(0);
      expect(run.opened).toHaveLength(1); // signed in again rather than trust the file
      expect(JSON.parse(run.stdout).AccessKeyId).toBe(broker.issued[1].credentials.AccessKeyId);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect((await cli.run(['whoami'])).code).toBe(0);
      fs.chmodSync(file, 0o640);
      expect((await cli.run(['whoami'])).code).toBe(1);
    },
  );

  it('ignores a corrupt entry without crashing, and overwrites it', async () => {
    fs.writeFileSync(file, '{"endpoint": "http://127.0.0.1:1", "credentials": ', { mode: 0o600 });
    expect((await cli.run(['whoami'])).code).toBe(1);
    const run = await cli.run(['credentials']);
    expect(run.code).toBe(0);
    expect(run.opened).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).endpoint).toBe(broker.endpoint);
  });

  it("ignores an entry of another app's endpoint or provider, or of the wrong shape", async () => {
    const entry = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const foreign of [
      { ...entry, endpoint: 'https://other.example' },
      { ...entry, credentials: { ...entry.credentials, Version: 2 } },
      [entry],
    ]) {
      fs.writeFileSync(file, JSON.stringify(foreign), { mode: 0o600 });
      expect((await cli.run(['whoami'])).code).toBe(1);
    }
    // A file under the google entry's name that holds another provider's sign-in.
    const google = path.join(path.dirname(file), path.basename(cacheFileFor('google')));
    fs.writeFileSync(google, JSON.stringify({ ...entry, provider: 'amazon' }), { mode: 0o600 });
    expect((await cli.run(['whoami', '--provider', 'google'])).code).toBe(1);
  });

  (posix ? it : it.skip)(
    'does not follow a symlink in place of the entry (cli-cache-private)',
    async () => {
      const elsewhere = path.join(cli.dir, 'planted.json');
      fs.renameSync(file, elsewhere);
      fs.symlinkSync(elsewhere, file);
      expect((await cli.run(['whoami'])).code).toBe(1);
    },
  );

  // Only root can hand a file to another user; elsewhere the check cannot be staged.
  (process.getuid?.() === 0 ? it : it.skip)('ignores an entry owned by another user', async () => {
    expect((await cli.run(['whoami'])).code).toBe(0);
    fs.chownSync(file, 4242, 4242);
    expect((await cli.run(['whoami'])).code).toBe(1);
  });

  it('login fails clearly when the cache cannot be written; credentials only warns', async () => {
    const blocked = path.join(cli.dir, 'a-file');
    fs.writeFileSync(blocked, '');
    const env = { WIF_CACHE_DIR: path.join(blocked, 'wif'), BROWSER: 'none' };
    const login = await cli.run(['login'], { env });
    expect(login.code).toBe(1);
    expect(login.stderr).toContain(
      `Cannot write the credential cache in ${path.join(blocked, 'wif')}`,
    );
    expect(login.stderr).toContain('set WIF_CACHE_DIR');
    const creds = await cli.run(['credentials'], { env });
    expect(creds.code).toBe(0);
    expect(creds.stderr).toContain('Warning: Cannot write the credential cache');
    expect(JSON.parse(creds.stdout).Version).toBe(1);
  });

  /** The cache file of `provider` at the broker, in the harness's directory. */
  function cacheFileFor(provider: string): string {
    return cacheFile(
      { endpoint: broker.endpoint, provider },
      {
        env: { WIF_CACHE_DIR: cli.cacheDir },
        homedir: cli.dir,
        cwd: cli.dir,
        platform: process.platform,
      },
    );
  }
});

describe('cacheDir', () => {
  const base = { homedir: '/h', cwd: '/c', platform: 'linux' as const };
  it('is WIF_CACHE_DIR, else $XDG_CACHE_HOME/wif (if absolute), else ~/.cache/wif', () => {
    expect(cacheDir({ ...base, env: { WIF_CACHE_DIR: 'rel', XDG_CACHE_HOME: '/x' } })).toBe(
      path.resolve('/c', 'rel'),
    );
    expect(cacheDir({ ...base, env: { XDG_CACHE_HOME: '/x' } })).toBe(path.join('/x', 'wif'));
    expect(cacheDir({ ...base, env: { XDG_CACHE_HOME: 'relative' } })).toBe(
      path.join('/h', '.cache', 'wif'),
    );
    expect(cacheDir({ ...base, env: {} })).toBe(path.join('/h', '.cache', 'wif'));
  });
});
