import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { API_PATHS, CSRF_HEADER } from '../../common/cli-protocol';
import type { RunningServer } from '../../local/contracts';
import { startLocalHttpApi } from '../../local/http-api';
import { buildSdkExampleScript, SDK_EXAMPLE_BUILD } from '../../local/sdk-example/bundle';
import {
  SDK_EXAMPLE_PATHS,
  sdkExampleHeaders,
  sdkExampleRoute,
} from '../../local/sdk-example/routes';
import { ensureLocalTls, type LocalTls } from '../../local/tls';
import { httpsText, type TextAnswer } from '../support/https-request';

/**
 * The sandbox's SDK example, server side: its script bundles for browsers, and the local
 * HTTP API serves the page and the script itself, with the app's security headers and a
 * strict CSP, leaving every other path to the function.
 */

const S3_ORIGIN = 'https://127.0.0.1:9999';
const SCRIPT = 'document.title = "example";';
// The function answers everything the example's routes leave to it.
const HANDLER = `exports.handler = async (event) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ function: event.requestContext.http.method + ' ' + event.rawPath }),
});`;

let dir: string;
let tls: LocalTls;
let api: RunningServer;

function request(method: string, pathAndQuery: string): Promise<TextAnswer> {
  return httpsText(`${api.url}${pathAndQuery}`, { ca: tls.ca, method });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-example-'));
  tls = await ensureLocalTls(path.join(dir, 'tls'));
  const assetDir = path.join(dir, 'asset.test');
  fs.mkdirSync(assetDir);
  fs.writeFileSync(path.join(assetDir, 'index.js'), HANDLER);
  api = await startLocalHttpApi({
    port: 0,
    tls,
    bundle: path.join(assetDir, 'index.js'),
    environment: {},
    functionTimeoutMs: 5_000,
    routes: [sdkExampleRoute({ s3Origin: S3_ORIGIN, script: SCRIPT })],
  });
});

afterAll(async () => {
  await api?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the SDK example script', () => {
  test('one minified script for browsers with the S3 client inside, and nothing of Node', async () => {
    expect(SDK_EXAMPLE_BUILD).toMatchObject({
      bundle: true,
      platform: 'browser',
      format: 'iife',
      minify: true,
    });
    const code = await buildSdkExampleScript();
    expect(() => new vm.Script(code)).not.toThrow();
    // One self-running function: nothing global but what it sets itself.
    expect(code.slice(0, 30)).toMatch(/^("use strict";)?\(\(\)=>\{/);
    expect(code.length / code.split('\n').length).toBeGreaterThan(1000);
    expect(code.includes('ListObjectsV2')).toBe(true);
    expect(code.includes('PutObject')).toBe(true);
    // common/cli-protocol.ts is imported for its types only: its Node crypto stays out.
    expect(/node:crypto|createHash/.test(code)).toBe(false);
    // About 270 KB: the S3 client's browser build.
    expect(code.length).toBeGreaterThan(100 * 1024);
    expect(code.length).toBeLessThan(600 * 1024);
  });

  test('a build error names the file', async () => {
    const bad = path.join(dir, 'bad.ts');
    fs.writeFileSync(bad, 'import { nothing } from "./missing";\nnothing();\n');
    await expect(buildSdkExampleScript(bad)).rejects.toThrow(/missing/);
  });
});

describe('served by the local HTTP API', () => {
  const expectedHeaders = {
    'content-security-policy': `default-src 'none'; script-src 'self'; connect-src 'self' ${S3_ORIGIN}; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'strict-transport-security': 'max-age=63072000; includeSubDomains',
  };

  test('the page: HTML with a strict CSP, the security headers, its script and the app paths', async () => {
    expect(sdkExampleHeaders(S3_ORIGIN)).toMatchObject(expectedHeaders);
    const res = await request('GET', SDK_EXAMPLE_PATHS.page);
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      ...expectedHeaders,
      'content-type': 'text/html; charset=utf-8',
    });
    expect(res.body).toContain(`<script src="${SDK_EXAMPLE_PATHS.script}" defer></script>`);
    expect(res.body).toContain(`data-session-path="${API_PATHS.session}"`);
    expect(res.body).toContain(`data-credentials-path="${API_PATHS.credentials}"`);
    expect(res.body).toContain(`data-csrf-header="${CSRF_HEADER}"`);
    // No inline script or style: the CSP would block them.
    expect(res.body).not.toMatch(/<script>|<style|\sstyle=|\son[a-z]+=/);
    for (const id of [
      'status',
      'signed-out',
      'list',
      'upload',
      'upload-result',
      'other',
      'other-result',
    ])
      expect(res.body).toContain(`id="${id}"`);
    // A query string does not change what is served.
    expect((await request('GET', `${SDK_EXAMPLE_PATHS.page}?x=1`)).body).toBe(res.body);
  });

  test('the script, as built; HEAD without a body; other methods are refused', async () => {
    const script = await request('GET', SDK_EXAMPLE_PATHS.script);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.headers['x-content-type-options']).toBe('nosniff');
    expect(script.body).toBe(SCRIPT);

    const head = await request('HEAD', SDK_EXAMPLE_PATHS.script);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(SCRIPT.length));
    expect(head.body).toBe('');

    const post = await request('POST', SDK_EXAMPLE_PATHS.page);
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  test('every other path goes to the function', async () => {
    for (const p of ['/', API_PATHS.session, '/sandbox/sdk-example/', '/sandbox/other']) {
      const res = await request('GET', p);
      expect(JSON.parse(res.body)).toEqual({ function: `GET ${p}` });
    }
  });
});
