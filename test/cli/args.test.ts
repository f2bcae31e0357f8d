import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, USAGE } from '../../cli/args';
import { main } from '../../cli/main';

/** A working directory that is never created: nothing here reads or writes files. */
const CWD = path.join(os.tmpdir(), 'wif-cli-args-test-none');

/** How the usage text says to run the command (`node wif-login.cjs`). */
const INVOCATION = /^Usage: (.+?) <command>/m.exec(USAGE)![1];

/** Runs `main` with nothing real behind it: these command lines never get that far. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { WIF_CACHE_DIR: CWD },
    cwd: CWD,
    openBrowser: () => {
      throw new Error('no browser in this test');
    },
  });
  return { code, stdout, stderr };
}

describe('wif-login command line', () => {
  it.each([['--help'], ['-h'], ['help'], ['login', '--help']])(
    '%s prints the usage on stdout and exits 0',
    async (...argv) => {
      const out = await run(argv);
      expect(out.code).toBe(0);
      expect(out.stdout).toContain('Usage: node wif-login.cjs <command> --endpoint <url>');
      for (const word of [
        'login',
        'credentials',
        'configure',
        'whoami',
        'logout',
        '--no-browser',
      ]) {
        expect(out.stdout).toContain(word);
      }
      expect(out.stdout).toContain('<endpoint>/cli/wif-login.cjs');
      expect(out.stderr).toBe('');
    },
  );

  it.each([
    [[], 'Give a command'],
    [['fly', '--endpoint', 'https://a.example'], 'Unknown command "fly"'],
    [['login', '--endpoint', 'https://a.example', '--verbose'], 'Unknown option "--verbose"'],
    [['login', '--endpoint', 'https://a.example', 'extra'], 'Unexpected argument "extra"'],
    [['login'], '--endpoint <url> is required'],
    [['login', '--endpoint'], '--endpoint needs a value'],
    [['login', '--endpoint', '--no-browser'], '--endpoint needs a value'],
    [
      ['login', '--endpoint', 'https://a.example', '--endpoint', 'https://b.example'],
      'given twice',
    ],
    [
      ['login', '--endpoint', 'https://a.example', '--profile', 'x'],
      '--profile is for configure only',
    ],
    [['login', '--endpoint', 'https://a.example', '--json'], '--json is for whoami only'],
    [
      ['login', '--endpoint', 'https://a.example', '--provider', 'Evil Corp'],
      'is not a provider name',
    ],
    [
      ['configure', '--endpoint', 'https://a.example', '--profile', 'a]b'],
      'is not a usable profile name',
    ],
    [['login', '--endpoint', 'https://a.example', '--ca='], '--ca needs a file name'],
  ])('%j is a usage error (exit 2): %s', async (argv, message) => {
    const out = await run(argv);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(message);
    // The hint names the command as it is run, the way the usage text does.
    expect(INVOCATION).toBe('node wif-login.cjs');
    expect(out.stderr).toContain(`\nRun \`${INVOCATION} --help\` for usage.`);
  });

  it.each([
    ['http://example.com', 'must use https://'],
    ['https://a.example/app', 'without a path'],
    ['https://user:pw@a.example', 'without credentials'],
    ['https://a.example/?x=1', 'without credentials, query or fragment'],
    ['a.example', 'is not a URL'],
  ])('refuses --endpoint %s (exit 2) (cli-https-endpoints-only)', async (endpoint, message) => {
    const out = await run(['whoami', '--endpoint', endpoint]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(JSON.stringify(endpoint));
    expect(out.stderr).toContain(message);
  });

  it('accepts http only to this computer, and https anywhere, as their origin (cli-https-endpoints-only)', () => {
    for (const [given, origin] of [
      ['http://127.0.0.1:1234', 'http://127.0.0.1:1234'],
      ['http://localhost:3000/', 'http://localhost:3000'],
      ['https://files.example.com', 'https://files.example.com'],
      ['https://Files.Example.com:443/', 'https://files.example.com'],
    ]) {
      const parsed = parseArgs(['login', `--endpoint=${given}`], CWD);
      expect(parsed).toMatchObject({ kind: 'run', options: { endpoint: origin } });
    }
  });

  it('gets as far as the cache with http://127.0.0.1:1234 (whoami: not signed in, exit 1)', async () => {
    const out = await run(['whoami', '--endpoint', 'http://127.0.0.1:1234']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('Not signed in at http://127.0.0.1:1234');
  });

  it('parses every option, resolving --ca against the working directory', () => {
    expect(
      parseArgs(
        ['configure', '--endpoint', 'https://a.example', '--provider', 'google', '--ca', 'ca.pem'],
        CWD,
      ),
    ).toEqual({
      kind: 'run',
      command: 'configure',
      options: {
        endpoint: 'https://a.example',
        provider: 'google',
        caPath: path.join(CWD, 'ca.pem'),
        noBrowser: false,
        profile: undefined,
        json: false,
      },
    });
    const whoami = parseArgs(
      ['whoami', '--json', '--no-browser', '--endpoint=https://a.example'],
      CWD,
    );
    expect(whoami).toMatchObject({ options: { json: true, noBrowser: true } });
  });
});
