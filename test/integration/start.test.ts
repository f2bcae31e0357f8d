/**
 * `npm start` as a newcomer runs it: a child process that prints the URL, refuses a
 * second start on busy ports, stops cleanly on Ctrl-C (SIGINT), and keeps the data
 * for the next start (`--reset` wipes it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isPortFree } from '../../local/listen';
import { ScriptedBrowser } from '../../local/scripted-browser';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '..', '..');
let dataDir: string;
let base: number;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-start-'));
  base = await freePortBlock();
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(args: string[] = []): Started {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'local/start.ts', '--data-dir', dataDir, ...args],
    {
      cwd: ROOT,
      env: { ...process.env, SANDBOX_PORT_BASE: String(base) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function ready(s: Started): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (!s.output().includes('Sandbox ready')) {
    if (Date.now() > deadline || s.child.exitCode !== null)
      throw new Error(`not ready:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function signInAndList(
  user: string,
): Promise<{ browser: ScriptedBrowser; body: string; csrf: string }> {
  const app = `https://127.0.0.1:${base}`;
  const browser = new ScriptedBrowser(fs.readFileSync(path.join(dataDir, 'tls', 'ca.pem'), 'utf8'));
  const login = await browser.go(`${app}/login/devidp`);
  const page = await browser.submit(login, { user });
  expect(page.url).toBe(`${app}/`);
  return { browser, body: page.body, csrf: /name="csrf" value="([^"]+)"/.exec(page.body)![1] };
}

test('prints the URL, refuses a second start, stops on Ctrl-C, keeps data across restarts', async () => {
  const first = start(['--reset']);
  await ready(first);
  expect(first.output()).toContain(`https://127.0.0.1:${base}/`);
  expect(first.output()).toContain(path.join(dataDir, 'tls', 'ca.pem'));
  expect(first.output()).toContain(`https://127.0.0.1:${base}/sandbox/sdk-example\n`);
  expect(first.output()).toMatch(
    /aws sts assume-role-with-web-identity --endpoint-url https:\/\/127\.0\.0\.1:\d+/,
  );

  // Upload a file as alice through the app.
  const { browser, csrf } = await signInAndList('alice');
  const res = await browser.request(`https://127.0.0.1:${base}/upload-url`, {
    method: 'POST',
    body: new URLSearchParams({ csrf, name: 'kept.txt', type: 'text/plain' }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const target = JSON.parse(res.body);
  const put = await fetchWithCa(target.url, {
    method: 'PUT',
    headers: target.headers,
    body: 'kept across restarts',
  });
  expect(put).toBe(200);

  const second = start();
  expect(await second.exited).toBe(1);
  expect(second.output()).toMatch(
    /ports busy: .*127\.0\.0\.1:\d+.*Is the sandbox already running\?/s,
  );
  expect(second.output()).not.toMatch(/\n\s+at /);

  first.child.kill('SIGINT');
  expect(await first.exited).toBe(0);
  expect(first.output()).toContain('Stopped.');

  const third = start();
  await ready(third);
  expect((await signInAndList('alice')).body).toContain('kept.txt');
  third.child.kill('SIGINT');
  expect(await third.exited).toBe(0);

  const fourth = start(['--reset']);
  await ready(fourth);
  expect((await signInAndList('alice')).body).not.toContain('kept.txt');
  fourth.child.kill('SIGINT');
  expect(await fourth.exited).toBe(0);
});

function fetchWithCa(
  url: string,
  init: { method: string; headers: Record<string, string>; body: string },
): Promise<number> {
  const https = jest.requireActual('node:https') as typeof import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: init.method,
        headers: init.headers,
        ca: fs.readFileSync(path.join(dataDir, 'tls', 'ca.pem')),
      },
      (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** Four consecutive free ports on 127.0.0.1. */
async function freePortBlock(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = 20000 + Math.floor(Math.random() * 40000);
    const ok = await Promise.all([0, 1, 2, 3].map((i) => isPortFree(candidate + i)));
    if (ok.every(Boolean)) return candidate;
  }
  throw new Error('no block of 4 free ports found');
}
