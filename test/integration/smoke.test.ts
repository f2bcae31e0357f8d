/**
 * The post-deploy smoke test (`npm run smoke`) against the sandbox, where every check
 * must pass, and against a deliberately weak app on the same CA, where the checks that
 * guard PKCE, CSP, cookies, forged callbacks and sign-out must fail: a checker that
 * cannot fail proves nothing.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { listenOnHost } from '../../local/listen';
import { startSandbox, type Sandbox } from '../../local/sandbox';
import { parseEndpoint, runSmoke, type SmokeReport } from '../../scripts/smoke-lib';
import type { Check } from '../../scripts/smoke-http';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

let sandbox: Sandbox;
let dataDir: string;
let weak: https.Server;
let weakUrl: string;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wif-smoke-'));
  sandbox = await startSandbox({ dataDir, ports: 'free', reset: true });
  ({ server: weak, url: weakUrl } = await startWeakApp(sandbox));
});

afterAll(async () => {
  if (weak) {
    weak.closeAllConnections();
    await new Promise((resolve) => weak.close(resolve));
  }
  await sandbox?.close();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

/**
 * An app that looks right at a glance: healthz, a sign-in page, most headers. But no
 * CSP, a login redirect without PKCE or nonce, a plain login cookie, callbacks that
 * sign anyone in, sign-out by GET, and TLS 1.0 still on.
 */
async function startWeakApp(sb: Sandbox): Promise<{ server: https.Server; url: string }> {
  const headers = {
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'strict-transport-security': 'max-age=63072000',
    'cache-control': 'no-store',
  };
  const html = { ...headers, 'content-type': 'text/html; charset=utf-8' };
  let origin = '';
  const server = https.createServer(
    {
      key: sb.tls.key,
      cert: sb.tls.cert,
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT:@SECLEVEL=0',
    },
    (req, res) => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      if (url.pathname === '/healthz') {
        res.writeHead(200, { ...headers, 'content-type': 'application/json' });
        res.end('{"status":"ok"}');
      } else if (url.pathname === '/') {
        res.writeHead(200, html);
        res.end('<a href="/login/x">Sign in with X</a>');
      } else if (url.pathname === '/login/x') {
        const authorize = new URL('https://idp.invalid/authorize');
        authorize.search = new URLSearchParams({
          response_type: 'code',
          client_id: 'weak-client',
          redirect_uri: `${origin}/oauth2callback/x`,
          scope: 'openid',
          state: randomBytes(32).toString('base64url'),
        }).toString();
        res.writeHead(302, {
          ...headers,
          location: authorize.href,
          'set-cookie': `login=${randomBytes(16).toString('hex')}; Path=/; Secure; SameSite=Lax; Max-Age=600`,
        });
        res.end();
      } else if (url.pathname === '/oauth2callback/x') {
        res.writeHead(302, {
          ...headers,
          location: '/',
          'set-cookie': 'session=signed-in; Path=/; Secure; HttpOnly; SameSite=Lax',
        });
        res.end();
      } else if (url.pathname === '/logout') {
        res.writeHead(200, html);
        res.end('Signed out');
      } else {
        res.writeHead(404, html);
        res.end('Not found');
      }
    },
  );
  origin = `https://127.0.0.1:${await listenOnHost(server, 0)}`;
  return { server, url: origin };
}

const byName = (report: SmokeReport, name: string): Check => {
  const check = report.checks.find((c) => c.name === name);
  if (!check)
    throw new Error(`no check named '${name}' in:\n${report.checks.map((c) => c.name).join('\n')}`);
  return check;
};

/** Runs the CLI the way `npm run smoke` does; resolves with the exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'scripts/smoke.ts', ...args], {
      cwd: ROOT,
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('smoke checks against the sandbox', () => {
  let report: SmokeReport;

  beforeAll(async () => {
    report = await runSmoke({ endpoint: sandbox.urls.app, ca: sandbox.tls.ca });
  });

  test('every check passes', () => {
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.failed).toBe(0);
    expect(report.stopped).toBeUndefined();
  });

  test('covers TLS, headers, every provider login and callback, and sign-out', () => {
    const providers = ['amazon', 'google', 'facebook', 'devidp'];
    expect(byName(report, 'GET /: 200 sign-in page linking providers').seen).toContain(
      providers.join(', '),
    );
    expect(byName(report, 'TLS 1.2 or newer negotiated').seen).toMatch(/^TLSv1\.[23]/);
    for (const page of ['/', '404']) {
      expect(byName(report, `headers on ${page}: X-Frame-Options DENY`).ok).toBe(true);
    }
    for (const p of providers) {
      expect(byName(report, `login ${p}: PKCE code_challenge with S256`).ok).toBe(true);
      expect(byName(report, `callback ${p}: duplicated code -> 400, no cookie set`).ok).toBe(true);
    }
    // OIDC providers need a nonce; Amazon and Facebook are OAuth 2.0 and get none.
    expect(byName(report, 'login google: nonce when OpenID Connect').seen).toMatch(/scope openid/);
    expect(byName(report, 'login amazon: nonce when OpenID Connect').seen).toMatch(
      /not OpenID Connect/,
    );
    expect(
      byName(
        report,
        'POST /logout without CSRF token: 403, or 303 to / when signed out; sets no cookie',
      ).seen,
    ).toMatch(/^303 -> \//);
    expect(byName(report, 'GET /cli/wif-login.cjs: 200, the command (node script)').ok).toBe(true);
    expect(report.checks.length).toBe(21 + 4 * 12 + 7);
  });

  test('the CLI exits 0 and prints one line per check and the summary', async () => {
    const out = await cli(sandbox.urls.app, '--ca', sandbox.tls.caFile);
    expect(out.stderr).not.toMatch(/FAIL/);
    expect(out.code).toBe(0);
    const lines = out.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('PASS  '))).toHaveLength(report.checks.length);
    expect(lines.filter((l) => l.startsWith('FAIL  '))).toEqual([]);
    expect(lines.at(-1)).toBe(`smoke: ${report.checks.length} checks, 0 failed`);
  });
});

test('verification stays on: without the sandbox CA the run stops at the certificate', async () => {
  const report = await runSmoke({ endpoint: sandbox.urls.app });
  expect(byName(report, 'TLS certificate verified for 127.0.0.1')).toMatchObject({
    ok: false,
    seen: expect.stringMatching(/CERT|certificate/i),
  });
  expect(report.stopped).toMatch(/no verified TLS connection/);
  expect(report.checks.some((c) => c.name.startsWith('login '))).toBe(false);
});

describe('smoke checks against an app without PKCE and CSP', () => {
  let report: SmokeReport;

  beforeAll(async () => {
    report = await runSmoke({ endpoint: weakUrl, ca: sandbox.tls.ca });
  });

  test.each([
    'TLS 1.0 and 1.1 refused',
    "headers on /: CSP default-src 'none' + frame-ancestors 'none'",
    "headers on 404: CSP default-src 'none' + frame-ancestors 'none'",
    'login x: PKCE code_challenge with S256',
    'login x: nonce when OpenID Connect',
    'login x: login cookie __Host-, Secure, HttpOnly, SameSite=Lax, short Max-Age',
    'callback x: forged code+state without login cookie -> 400, no cookie set',
    'callback x: forged code+state with the login cookie -> 400, no cookie set',
    'callback x: duplicated code -> 400, no cookie set',
    'POST /logout without CSRF token: 403, or 303 to / when signed out; sets no cookie',
    'GET /logout: 405',
    'GET /cli/wif-login.cjs: 200, the command (node script)',
    'GET /cli/authorize with port=80: 400, no redirect',
    'GET /cli/authorize with PKCE plain: invalid_request to the loopback, no code',
    'GET /cli/authorize signed out: sign in first, then back to it',
    'POST /cli/token with a forged code: 400 invalid_grant, no credentials',
  ])('reports FAIL: %s', (name) => {
    expect(byName(report, name).ok).toBe(false);
  });

  test.each([
    'TLS certificate verified for 127.0.0.1',
    "GET /healthz: 200 JSON {status: 'ok'}",
    'headers on /: X-Frame-Options DENY',
    'login x: response_type=code (code flow, never implicit)',
    'login x: state high entropy',
    'login x: two logins give different state, nonce, code_challenge, cookie',
  ])('still reports PASS where the app is right: %s', (name) => {
    expect(byName(report, name).ok).toBe(true);
  });

  test('says what it saw', () => {
    expect(byName(report, 'login x: PKCE code_challenge with S256').seen).toBe(
      'no code_challenge; no code_challenge_method',
    );
    expect(byName(report, 'TLS 1.0 and 1.1 refused').seen).toMatch(/TLSv1: negotiated TLSv1\b/);
    expect(
      byName(report, 'login x: login cookie __Host-, Secure, HttpOnly, SameSite=Lax, short Max-Age')
        .seen,
    ).toMatch(/login lacks the __Host- prefix; login not HttpOnly/);
    expect(
      byName(report, 'callback x: forged code+state without login cookie -> 400, no cookie set')
        .seen,
    ).toBe('302 -> /; session SET');
  });

  test('the CLI prints the failures and exits non-zero', async () => {
    const out = await cli(weakUrl, '--ca', sandbox.tls.caFile);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain(
      'FAIL  login x: PKCE code_challenge with S256 -- no code_challenge; no code_challenge_method',
    );
    expect(out.stdout).toMatch(
      /^FAIL {2}headers on \/: CSP default-src 'none' \+ frame-ancestors 'none' -- no Content-Security-Policy header$/m,
    );
    expect(out.stdout.trim().split('\n').at(-1)).toBe(
      `smoke: ${report.checks.length} checks, ${report.failed} failed`,
    );
    expect(report.failed).toBeGreaterThanOrEqual(11);
  });
});

describe('endpoint argument', () => {
  test.each([
    ['http://example.com', /must use https/],
    ['https://example.com/prod', /must be an origin/],
    ['https://user:pw@example.com', /must be an origin/],
    ['example.com', /absolute URL/],
  ])('refuses %s', (raw, message) => {
    expect(() => parseEndpoint(raw)).toThrow(message);
  });

  test('the CLI exits 2 on an http:// endpoint', async () => {
    const out = await cli('http://127.0.0.1:1');
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/must use https/);
  });
});
