import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { FakeBroker } from '../support/fake-broker';

const ROOT = path.join(__dirname, '..', '..');
const posix = process.platform !== 'win32';

/** Runs a program to its end without blocking this process (the broker answers from it). */
function exec(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** True when the AWS CLI can be run here. */
function hasAwsCli(): boolean {
  try {
    execFileSync('aws', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The command as it ships: bundled by esbuild into one CommonJS file and run with
 * `node wif-login.cjs`, with a real browser stand-in that BROWSER names.
 */
describe('wif-login.cjs, the bundled command', () => {
  let dir: string;
  let bundle: string;
  let broker: FakeBroker;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-bundle-'));
    bundle = path.join(dir, 'dist dir', 'wif-login.cjs');
    buildSync({
      entryPoints: [path.join(ROOT, 'cli', 'wif-login.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node18',
      outfile: bundle,
      logLevel: 'silent',
    });
    broker = await FakeBroker.start();
    // The "browser": fetches the URL and follows the app's redirect to the loopback server.
    const browse = path.join(dir, 'browse.cjs');
    fs.writeFileSync(browse, 'fetch(process.argv[2]).catch(() => process.exit(1));\n');
    const browser = path.join(dir, 'browser.sh');
    fs.writeFileSync(browser, `#!/bin/sh\nexec "${process.execPath}" "${browse}" "$1"\n`, {
      mode: 0o755,
    });
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      WIF_CACHE_DIR: path.join(dir, 'cache'),
      AWS_CONFIG_FILE: path.join(dir, 'aws-config'),
      BROWSER: browser,
    };
  });
  afterAll(async () => {
    await broker.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has no dependencies: one file that only requires Node built-ins', () => {
    const code = fs.readFileSync(bundle, 'utf8');
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    for (const name of required)
      expect(name).toMatch(
        /^node:|^(fs|os|path|http|https|tls|crypto|child_process|readline|tty|net)$/,
      );
  });

  (posix ? it : it.skip)(
    'signs in through BROWSER, then credentials prints the JSON and configure writes its own path',
    async () => {
      const help = await exec(process.execPath, [bundle, '--help'], env);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('Usage: node wif-login.cjs');

      const args = ['--endpoint', broker.endpoint];
      const login = await exec(process.execPath, [bundle, 'login', ...args], env);
      expect(login.stderr).toContain('Open this URL to sign in: ');
      expect(login.code).toBe(0);
      expect(broker.issued).toHaveLength(1);

      const creds = await exec(process.execPath, [bundle, 'credentials', ...args], env);
      expect(creds.code).toBe(0);
      expect(JSON.parse(creds.stdout)).toEqual(broker.issued[0].credentials);
      expect(creds.stderr).toBe('');

      const configure = await exec(process.execPath, [bundle, 'configure', ...args], env);
      expect(configure.code).toBe(0);
      const config = fs.readFileSync(env.AWS_CONFIG_FILE as string, 'utf8');
      expect(config).toContain(
        `credential_process = "${process.execPath}" "${bundle}" credentials --endpoint ${broker.endpoint}\n`,
      );

      if (hasAwsCli()) {
        // The AWS CLI runs the profile's credential_process (from the cache: no browser).
        const list = await exec('aws', ['configure', 'list', '--profile', 'wif-default'], env);
        expect(list.stdout).toMatch(/access_key\s+\*+\w{4}\s+custom-process/);
        expect(list.stdout).toContain(broker.issued[0].credentials.AccessKeyId.slice(-4));
        expect(broker.issued).toHaveLength(1);
      }
    },
  );

  it('run from source with tsx, configure refuses and names the built command', async () => {
    const tsx = path.join(ROOT, 'node_modules', '.bin', posix ? 'tsx' : 'tsx.cmd');
    const entry = path.join(ROOT, 'cli', 'wif-login.ts');
    const before = broker.authorizeRequests.length;
    const run = await exec(tsx, [entry, 'configure', '--endpoint', broker.endpoint], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('configure needs the built command');
    expect(broker.authorizeRequests).toHaveLength(before); // refused before signing in
  });
});
