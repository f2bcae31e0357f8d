import { PassThrough } from 'node:stream';
import { PASTE_REDIRECT_URI } from '../../common/cli-protocol';
import { readLine } from '../../cli/prompt';
import { FakeBroker } from '../support/fake-broker';
import { CliHarness, eachTestWithBroker, type CliRun } from '../support/cli-harness';

/** The URL the command printed on stderr for the user to open. */
function printedUrl(stderr: string): URL {
  const match = /Open this URL to sign in: (\S+)/.exec(stderr);
  if (!match) throw new Error(`no URL in ${stderr}`);
  return new URL(match[1]);
}

describe('wif-login --no-browser: paste mode', () => {
  let broker: FakeBroker;
  let cli: CliHarness;
  let stderrSoFar: () => string;

  /**
   * Runs the command in paste mode; the "user" opens the printed URL on another device,
   * and `paste` turns the code that page shows into what is typed at the prompt.
   */
  async function pasteRun(argv: string[], paste = (code: string) => code): Promise<CliRun> {
    let stderr = '';
    stderrSoFar = () => stderr;
    const prompts: string[] = [];
    const run = await cli.run([...argv, '--no-browser'], {
      stderr: (text) => (stderr += text),
      readCode: async (prompt) => {
        prompts.push(prompt);
        const page = await fetch(printedUrl(stderr));
        return paste(await page.text());
      },
    });
    expect(prompts).toEqual(['Paste the code the page shows after you allow access: ']);
    return { ...run, stderr };
  }

  eachTestWithBroker((b, c) => {
    broker = b;
    cli = c;
  });

  it('prints a mode=paste URL, opens no browser, and redeems the pasted code out of band', async () => {
    const run = await pasteRun(['login', '--provider', 'google'], (code) => `  ${code}\r\n`);
    expect(run.code).toBe(0);
    expect(run.opened).toEqual([]);
    const url = printedUrl(stderrSoFar());
    expect(url.searchParams.get('mode')).toBe('paste');
    expect(url.searchParams.has('port')).toBe(false);
    expect(url.searchParams.get('provider')).toBe('google');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    const form = broker.tokenRequests[0];
    expect(form.get('redirect_uri')).toBe(PASTE_REDIRECT_URI);
    expect(url.toString()).not.toContain(form.get('code_verifier'));
    expect(cli.cacheFiles()).toHaveLength(1);
  });

  it('takes a pasted code of about 4 KB', async () => {
    broker.codeLength = 4096;
    const run = await pasteRun(['credentials']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).Version).toBe(1);
    expect(broker.tokenRequests[0].get('code')).toHaveLength(4096);
  });

  it('refuses an empty paste or text that cannot be a code, without a token request', async () => {
    const empty = await pasteRun(['login'], () => '');
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('No code was pasted');
    const garbage = await pasteRun(['login'], (code) => `code: ${code}`);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toContain('That is not a sign-in code');
    expect(broker.tokenRequests).toHaveLength(0);
  });
});

describe('readLine', () => {
  it('reads one long line (8 KB) and trims it; the prompt goes to the output', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let shown = '';
    output.on('data', (chunk) => (shown += chunk));
    const line = readLine(input, output, 'Code: ');
    const long = 'a.b_c-'.repeat(1400);
    input.write(`  ${long.slice(0, 3000)}`);
    input.write(`${long.slice(3000)}  \n`);
    await expect(line).resolves.toBe(long);
    expect(shown).toBe('Code: ');
  });

  it('fails clearly at the end of input', async () => {
    const input = new PassThrough();
    const line = readLine(input, new PassThrough(), 'Code: ');
    input.end();
    await expect(line).rejects.toThrow('No code was entered');
  });
});
