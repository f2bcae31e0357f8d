import * as http from 'node:http';
import { defaultDeps } from '../../cli/deps';
import { loopbackTimeoutMessage } from '../../cli/loopback';
import { FakeBroker } from '../support/fake-broker';
import {
  authorizeRedirect,
  CliHarness,
  type CliRun,
  eachTestWithBroker,
} from '../support/cli-harness';

/** A raw GET to the loopback server, with the Host header a test chooses. */
function rawGet(url: URL, host = url.host): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('wif-login: the loopback receiver', () => {
  let broker: FakeBroker;
  let cli: CliHarness;
  /** Starts `login` with a browser the test drives by hand; resolves with the URL it opened. */
  let start: (argv?: string[]) => Promise<{ url: string; done: Promise<CliRun> }>;

  eachTestWithBroker(async (b, c) => {
    broker = b;
    cli = c;
    start = async (argv = ['login']) => {
      let opened: (url: string) => void = () => undefined;
      const url = new Promise<string>((resolve) => (opened = resolve));
      cli.browser = (u) => opened(u);
      const done = cli.run(argv);
      return { url: await url, done };
    };
  });

  it('refuses a callback with a wrong or missing state (400) and keeps waiting for the right one (cli-state-checked)', async () => {
    const { url, done } = await start();
    const callback = await authorizeRedirect(url);
    const rightState = callback.searchParams.get('state') as string;

    const forged = new URL(callback);
    forged.searchParams.set(
      'state',
      `${rightState.slice(0, -1)}${rightState.endsWith('A') ? 'B' : 'A'}`,
    );
    const wrong = await fetch(forged);
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('state does not match');

    const missing = new URL(callback);
    missing.searchParams.delete('state');
    expect((await fetch(missing)).status).toBe(400);
    // A deny with a wrong state must not end the sign-in either.
    const deny = new URL(
      `${callback.origin}${callback.pathname}?error=access_denied&state=x${rightState}`,
    );
    expect((await fetch(deny)).status).toBe(400);
    expect(broker.tokenRequests).toHaveLength(0);

    const right = await fetch(callback);
    expect(right.status).toBe(200);
    expect(await right.text()).toContain(
      'Signed in. You can close this tab and return to the terminal.',
    );
    expect(right.headers.get('cache-control')).toBe('no-store');
    expect(right.headers.get('referrer-policy')).toBe('no-referrer');
    const run = await done;
    expect(run.code).toBe(0);
    expect(broker.tokenRequests).toHaveLength(1);
    expect(broker.tokenRequests[0].get('code')).toBe(callback.searchParams.get('code'));
  });

  it('answers only GET /callback on its own Host (404 elsewhere, 400 for a rebound name) (cli-state-checked)', async () => {
    const { url, done } = await start();
    const callback = await authorizeRedirect(url);
    expect((await fetch(new URL('/', callback))).status).toBe(404);
    expect((await fetch(new URL('/callback/x', callback))).status).toBe(404);
    expect((await fetch(callback, { method: 'POST' })).status).toBe(404);
    expect((await rawGet(callback, `evil.example:${callback.port}`)).status).toBe(400);
    const dup = new URL(callback);
    dup.searchParams.append('code', 'second');
    expect((await fetch(dup)).status).toBe(400);
    const markup = new URL(callback);
    markup.searchParams.set('code', '<script>alert(1)</script>');
    expect((await fetch(markup)).status).toBe(400);
    expect(broker.tokenRequests).toHaveLength(0);

    expect((await rawGet(callback)).status).toBe(200);
    expect((await done).code).toBe(0);
    // One sign-in, one server: it is closed afterwards.
    await expect(fetch(callback)).rejects.toThrow();
  });

  (process.platform === 'linux' ? it : it.skip)(
    'listens on 127.0.0.1 only, not on every address of the machine',
    async () => {
      const { url, done } = await start();
      const callback = await authorizeRedirect(url);
      // 127.0.0.2 reaches this machine too on Linux; a server on 0.0.0.0 would answer it.
      const other = new URL(callback);
      other.hostname = '127.0.0.2';
      await expect(rawGet(other, callback.host)).rejects.toThrow('ECONNREFUSED');
      expect((await fetch(callback)).status).toBe(200);
      expect((await done).code).toBe(0);
    },
  );

  it('fails clearly on error=access_denied with the right state, without a token request', async () => {
    broker.decision = 'deny';
    const run = await cli.run(['login']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('Sign-in did not complete: access was denied');
    expect(broker.tokenRequests).toHaveLength(0);
    expect(cli.cacheFiles()).toEqual([]);
  });

  it('shows other errors from the app as printable text', async () => {
    const { url, done } = await start();
    const callback = await authorizeRedirect(url);
    const failed = new URL(`${callback.origin}${callback.pathname}`);
    failed.searchParams.set('state', callback.searchParams.get('state') as string);
    failed.searchParams.set('error', 'server_error');
    failed.searchParams.set('error_description', 'line1\n\u001b[31mred');
    expect((await fetch(failed)).status).toBe(200);
    const run = await done;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the app answered "server_error": line1 [31mred');
    expect(run.stderr).not.toContain('\u001b');
  });

  it('stops at once with the reason when the app refuses the request (an unknown provider)', async () => {
    broker.providers = ['google', 'amazon'];
    const started = Date.now();
    // A minute to wait, at most: the refusal must end it long before.
    const run = await cli.run(['login', '--provider', 'nosuch'], { loopbackTimeoutMs: 60_000 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'Sign-in did not complete: the app answered "invalid_request": There is no sign-in provider "nosuch" here; use one of: google, amazon.',
    );
    expect(broker.tokenRequests).toHaveLength(0);
    expect(cli.cacheFiles()).toEqual([]);
  });

  it('takes a code of about 4 KB through the browser redirect', async () => {
    broker.codeLength = 4096;
    const run = await cli.run(['login']);
    expect(run.code).toBe(0);
    expect(broker.tokenRequests[0].get('code')).toHaveLength(4096);
  });

  it('gives up after its timeout with a clear message and closes the port', async () => {
    cli.browser = () => undefined; // the user never finishes
    let port = '';
    const run = await cli.run(['login'], {
      loopbackTimeoutMs: 200,
      openBrowser: (url) => (port = new URL(url).searchParams.get('port') as string),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('No sign-in came back within 200 ms');
    await expect(fetch(`http://127.0.0.1:${port}/callback`)).rejects.toThrow();
  });

  it('waits 5 minutes by default, and says so when it gives up', () => {
    expect(defaultDeps().loopbackTimeoutMs).toBe(5 * 60_000);
    expect(loopbackTimeoutMessage(5 * 60_000)).toContain('No sign-in came back within 5 minutes.');
  });
});
