import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RunningServer } from '../../local/contracts';
import { functionTimeoutMs, startLocalHttpApi } from '../../local/http-api';
import { ensureLocalTls, type LocalTls } from '../../local/tls';
import { FAST_TIMEOUTS, slowClient } from '../support/slow-client';

/**
 * The local HTTP API enforces the function's timeout as Lambda and API Gateway do: the
 * handler's context reports the time left; an invocation still running at the limit is
 * answered 500 `{"message":"Internal Server Error"}` (an HTTP API's answer to a function
 * error) and its process replaced.
 */

const TIMEOUT_MS = 1_000;

// A function with one route per behaviour; `count` and `pid` tell processes apart.
const HANDLER = `
let count = 0;
exports.handler = async (event, context) => {
  count++;
  const q = new URLSearchParams(event.rawQueryString);
  if (event.rawPath === '/hang') return new Promise(() => undefined);
  if (event.rawPath === '/spin') for (;;);
  if (event.rawPath === '/sleep') await new Promise((r) => setTimeout(r, Number(q.get('ms'))));
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ remaining: context.getRemainingTimeInMillis(), count, pid: process.pid }),
  };
};
`;

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

let dir: string;
let tls: LocalTls;
let api: RunningServer;
let logs: Record<string, unknown>[];

function get(pathAndQuery: string): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    https
      .get(`${api.url}${pathAndQuery}`, { ca: tls.ca, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started }),
        );
      })
      .on('error', reject);
  });
}

const info = async () => {
  const res = await get('/info');
  expect(res.status).toBe(200);
  return JSON.parse(res.body) as { remaining: number; count: number; pid: number };
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-api-'));
  tls = await ensureLocalTls(path.join(dir, 'tls'));
  const assetDir = path.join(dir, 'asset.test');
  fs.mkdirSync(assetDir);
  fs.writeFileSync(path.join(assetDir, 'index.js'), HANDLER);
  logs = [];
  api = await startLocalHttpApi({
    port: 0,
    tls,
    bundle: path.join(assetDir, 'index.js'),
    environment: {},
    functionTimeoutMs: TIMEOUT_MS,
    log: (entry) => logs.push(entry),
  });
});

afterAll(async () => {
  await api?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the local HTTP API and the function timeout', () => {
  test('listens on 127.0.0.1 only', () => {
    expect(new URL(api.url).hostname).toBe('127.0.0.1');
  });

  test("the handler's context reports the time left before the function times out", async () => {
    const { remaining } = await info();
    expect(remaining).toBeGreaterThan(TIMEOUT_MS / 2);
    expect(remaining).toBeLessThanOrEqual(TIMEOUT_MS);
  });

  test('a handler still running at the timeout: 500 {"message":"Internal Server Error"} after about the timeout', async () => {
    const res = await get('/hang');
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ message: 'Internal Server Error' });
    expect(res.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(res.ms).toBeLessThan(TIMEOUT_MS + 1_500);
    expect(logs).toContainEqual(expect.objectContaining({ path: '/hang', status: 500 }));
  });

  test('a timed-out process is replaced: a handler spinning forever does not block later requests', async () => {
    const before = await info();
    const spun = await get('/spin');
    expect(spun.status).toBe(500);
    const after = await info();
    expect(after.pid).not.toBe(before.pid);
    expect(after.count).toBe(1);
    expect(after.remaining).toBeGreaterThan(TIMEOUT_MS / 2);
  });

  test('other invocations in a timed-out process still finish in their own time', async () => {
    const hung = get('/hang');
    await new Promise((r) => setTimeout(r, 600));
    // Started before the hang times out (at 1 s), done after it (at about 1.3 s).
    const slow = get('/sleep?ms=700');
    expect((await hung).status).toBe(500);
    expect((await slow).status).toBe(200);
    // Later requests go to a fresh process.
    expect((await info()).count).toBe(1);
  });
});

describe('slow clients', () => {
  test('a client that sends its request line or headers slowly is cut off within the bound, before the function runs', async () => {
    const invoked: Record<string, unknown>[] = [];
    const fast = await startLocalHttpApi({
      port: 0,
      tls,
      bundle: path.join(dir, 'asset.test', 'index.js'),
      environment: {},
      functionTimeoutMs: TIMEOUT_MS,
      timeouts: FAST_TIMEOUTS,
      log: (entry) => invoked.push(entry),
    });
    try {
      const port = Number(new URL(fast.url).port);
      for (const partial of ['GET / HT', 'GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ']) {
        const outcome = await slowClient(port, tls.ca, partial);
        expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(FAST_TIMEOUTS.headersMs - 50);
        expect(outcome.closedAfterMs).toBeLessThan(FAST_TIMEOUTS.headersMs + 1_000);
        expect(outcome.answer).toMatch(/^HTTP\/1\.1 408 /);
      }
      expect(invoked).toEqual([]);
    } finally {
      await fast.close();
    }
  });
});

describe('functionTimeoutMs: the Timeout of the bundle’s function in the template', () => {
  const template = {
    Resources: {
      Other: {
        Type: 'AWS::Lambda::Function',
        Metadata: { 'aws:asset:path': 'asset.other' },
        Properties: { Timeout: 900 },
      },
      Callback: {
        Type: 'AWS::Lambda::Function',
        Metadata: { 'aws:asset:path': 'asset.callback' },
        Properties: { Timeout: 15 },
      },
      NoTimeout: {
        Type: 'AWS::Lambda::Function',
        Metadata: { 'aws:asset:path': 'asset.default' },
        Properties: {},
      },
    },
  };

  test('reads the function whose asset holds the bundle', () => {
    expect(functionTimeoutMs(template, '/cdk.out/asset.callback/index.js')).toBe(15_000);
    expect(functionTimeoutMs(template, '/cdk.out/asset.other/index.js')).toBe(900_000);
  });

  test("CloudFormation's default of 3 s when the function sets none", () => {
    expect(functionTimeoutMs(template, '/cdk.out/asset.default/index.js')).toBe(3_000);
  });

  test('a bundle no function uses is an error, not a guess', () => {
    expect(() => functionTimeoutMs(template, '/cdk.out/asset.none/index.js')).toThrow(
      /no AWS::Lambda::Function in the template has the asset asset.none/,
    );
  });
});
