import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CliDeps } from '../../cli/deps';
import { main } from '../../cli/main';
import { FakeBroker } from './fake-broker';

/** What one run of the command did. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The URLs the command asked the browser to open. */
  readonly opened: readonly string[];
}

/**
 * Plays the browser: opens `url` and follows the app's redirect to the command's loopback
 * server, as a browser does after the user pressed Allow. Resolves with the last answer.
 */
export async function browse(url: string): Promise<Response> {
  return fetch(url, { redirect: 'follow' });
}

/** The `Location` the app answers the authorize URL with (the callback, before following it). */
export async function authorizeRedirect(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' });
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`authorize answered ${res.status}`);
  return new URL(location);
}

/**
 * A scratch home for the command: a temporary directory with the cache and the AWS config
 * file in it, a clock tests move by hand, and `run` to call `main` in-process.
 */
export class CliHarness {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-cli-'));
  readonly cacheDir = path.join(this.dir, 'cache', 'wif');
  readonly configFile = path.join(this.dir, 'aws', 'config');
  /** The clock `main` sees; starts at the real time so the broker's expiries line up. */
  t = Date.now();
  /** What the browser does with a URL the command opens; by default it signs in at once. */
  browser: (url: string) => void = (url) => {
    this.browsing.push(browse(url).catch((error: Error) => error));
  };
  /** Pending browser visits (awaited by `run`). */
  readonly browsing: Promise<unknown>[] = [];

  constructor(readonly broker: FakeBroker) {}

  /** The broker's credentials expire `ms` after the harness clock. */
  expireIn(ms: number): void {
    this.broker.expiration = () => new Date(this.t + ms).toISOString();
  }

  /** Runs `wif-login <argv> --endpoint <broker>` (unless argv has its own endpoint). */
  async run(argv: readonly string[], deps: Partial<CliDeps> = {}): Promise<CliRun> {
    let stdout = '';
    let stderr = '';
    const opened: string[] = [];
    const withEndpoint = argv.some((a) => a.startsWith('--endpoint'))
      ? argv
      : [...argv, '--endpoint', this.broker.endpoint];
    const code = await main(withEndpoint, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
      env: { WIF_CACHE_DIR: this.cacheDir, AWS_CONFIG_FILE: this.configFile, BROWSER: 'none' },
      now: () => this.t,
      homedir: this.dir,
      cwd: this.dir,
      execPath: '/usr/local/bin/node',
      commandPath: path.join(this.dir, 'wif-login.cjs'),
      openBrowser: (url) => {
        opened.push(url);
        this.browser(url);
      },
      showOnTerminal: () => undefined,
      readCode: () => Promise.reject(new Error('no terminal in tests')),
      ...deps,
    });
    await Promise.all(this.browsing.splice(0));
    return { code, stdout, stderr, opened };
  }

  /** The files in the cache directory. */
  cacheFiles(): string[] {
    return fs.existsSync(this.cacheDir) ? fs.readdirSync(this.cacheDir) : [];
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every secret part of the credentials the broker issued, to look for where they must not be. */
export function secretsOf(broker: FakeBroker): string[] {
  return broker.issued.flatMap((r) => [
    r.credentials.AccessKeyId,
    r.credentials.SecretAccessKey,
    r.credentials.SessionToken,
  ]);
}

/**
 * Gives each test of the calling `describe` a fresh fake app and a fresh scratch home:
 * `ready` receives them (assign them to the test file's own variables there); both are
 * closed and removed after each test.
 */
export function eachTestWithBroker(
  ready: (broker: FakeBroker, cli: CliHarness) => void | Promise<void>,
): void {
  let current: { broker: FakeBroker; cli: CliHarness } | undefined;
  beforeEach(async () => {
    const broker = await FakeBroker.start();
    current = { broker, cli: new CliHarness(broker) };
    await ready(current.broker, current.cli);
  });
  afterEach(async () => {
    await current?.broker.close();
    current?.cli.cleanup();
    current = undefined;
  });
}
