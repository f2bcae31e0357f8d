import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type * as https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { RunningServer, TlsOptions } from './contracts';
import { createSandboxServer, listenOnHost, type ServerTimeouts } from './listen';

/**
 * The local HTTP API: API Gateway payload v2 events for the exact Lambda bundle that
 * `cdk deploy` would upload, run in a child process with its own environment.
 */

export interface LocalHttpApiOptions {
  readonly port: number;
  readonly tls: TlsOptions;
  /** The bundle's `index.js` in the cloud assembly. */
  readonly bundle: string;
  /** The function's environment (APP_CONFIG, APP_SECRETS, NODE_EXTRA_CA_CERTS...). */
  readonly environment: Record<string, string>;
  /**
   * The function's timeout, its `Timeout` in the synthesized template
   * ({@link functionTimeoutMs}). The handler's context reports the time left before it; an
   * invocation still running then is abandoned and answered as API Gateway answers a
   * Lambda timeout, and its process is replaced, as Lambda resets a timed-out environment.
   */
  readonly functionTimeoutMs: number;
  /** API Gateway's integration timeout. @default 29_000 */
  readonly timeoutMs?: number;
  readonly log?: (entry: Record<string, unknown>) => void;
  /** @default DEFAULT_TIMEOUTS */
  readonly timeouts?: ServerTimeouts;
  /**
   * Sandbox-only paths answered here, before the function (the SDK example page); the
   * first that answers a request decides, the others go to the function.
   * @default - none: every request goes to the function
   */
  readonly routes?: readonly LocalRoute[];
}

/** Answers a request itself and returns true, or returns false to leave it to the function. */
export type LocalRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway's payload limit

/** CloudFormation's default when a function sets no `Timeout`. */
const DEFAULT_FUNCTION_TIMEOUT_SECONDS = 3;

/** The `Timeout` of the function whose code is `bundle` (in the assembly), in ms. */
export function functionTimeoutMs(template: Record<string, unknown>, bundle: string): number {
  const assetDir = path.basename(path.dirname(bundle));
  const resources = (template.Resources ?? {}) as Record<
    string,
    { Type?: string; Metadata?: Record<string, unknown>; Properties?: { Timeout?: unknown } }
  >;
  for (const r of Object.values(resources)) {
    if (r.Type === 'AWS::Lambda::Function' && r.Metadata?.['aws:asset:path'] === assetDir) {
      const timeout = r.Properties?.Timeout;
      if (timeout === undefined) return DEFAULT_FUNCTION_TIMEOUT_SECONDS * 1000;
      if (typeof timeout !== 'number' || !(timeout > 0))
        throw new Error(`the function's Timeout is not a number of seconds: ${String(timeout)}`);
      return timeout * 1000;
    }
  }
  throw new Error(`no AWS::Lambda::Function in the template has the asset ${assetDir}`);
}

type Result = APIGatewayProxyStructuredResultV2;

/** An invocation API Gateway stopped waiting for, and why. */
class InvocationTimeout extends Error {
  constructor(readonly limit: 'function' | 'integration') {
    super(`${limit} timeout`);
  }
}

/** One function process and the invocations it is running. */
interface Runner {
  /** The process, once it has loaded the bundle. */
  readonly ready: Promise<ChildProcess>;
  readonly pending: Map<string, { resolve: (r: Result) => void; reject: (e: Error) => void }>;
  /** Takes no new invocations; stopped once those it runs have ended. */
  retired: boolean;
}

export async function startLocalHttpApi(options: LocalHttpApiOptions): Promise<RunningServer> {
  const integrationMs = options.timeoutMs ?? 29_000;
  const runners = new Set<Runner>();
  let closed = false;

  const newRunner = (): Runner => {
    const runner: Runner = { ready: startRunner(options), pending: new Map(), retired: false };
    runners.add(runner);
    runner.ready.then(
      (child) => {
        child.on('message', (m: { id?: string; result?: Result; error?: string }) => {
          const p = m.id ? runner.pending.get(m.id) : undefined;
          if (!p) return; // abandoned at its timeout: the late answer is dropped
          runner.pending.delete(m.id!);
          if (m.error) p.reject(new Error(m.error));
          else p.resolve(m.result ?? {});
          stopWhenIdle(runner);
        });
        child.on('exit', () => {
          runners.delete(runner);
          for (const p of runner.pending.values())
            p.reject(new Error('the function process exited'));
          runner.pending.clear();
          // A crashed process is replaced, as Lambda starts a new environment.
          retire(runner);
        });
      },
      () => {
        // A process that cannot even start is not replaced at once (that would fork in a
        // loop while, say, the bundle is gone); the next invocation tries a fresh one.
        runners.delete(runner);
        runner.retired = true;
      },
    );
    return runner;
  };
  let current = newRunner();
  await current.ready;

  /** No new invocations for `runner`; the next ones go to a fresh process. */
  function retire(runner: Runner): void {
    if (runner.retired) return;
    runner.retired = true;
    if (runner === current && !closed) current = newRunner();
    stopWhenIdle(runner);
  }

  function stopWhenIdle(runner: Runner): void {
    if (runner.retired && runner.pending.size === 0)
      void runner.ready.then(
        (child) => child.kill(),
        () => undefined,
      );
  }

  async function invoke(event: APIGatewayProxyEventV2): Promise<Result> {
    if (current.retired && !closed) current = newRunner();
    const runner = current;
    const child = await runner.ready;
    // Replaced while it started (a crash): the fresh process takes the invocation.
    if (runner.retired && runner !== current) return invoke(event);
    return new Promise((resolve, reject) => {
      const id = event.requestContext.requestId;
      const functionLimit = options.functionTimeoutMs <= integrationMs;
      const timer = setTimeout(
        () => {
          runner.pending.delete(id);
          reject(new InvocationTimeout(functionLimit ? 'function' : 'integration'));
          // Lambda ends a timed-out invocation by resetting its environment; other
          // invocations in this process may finish first.
          if (functionLimit) retire(runner);
          stopWhenIdle(runner);
        },
        Math.min(options.functionTimeoutMs, integrationMs),
      );
      runner.pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ id, event, deadline: Date.now() + options.functionTimeoutMs }, (err) => {
        if (!err) return;
        const p = runner.pending.get(id);
        runner.pending.delete(id);
        p?.reject(err);
      });
    });
  }

  const server = createSandboxServer(
    options.tls,
    (req, res) => {
      if (options.routes?.some((route) => route(req, res))) return;
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY_BYTES) chunks.push(c);
      });
      req.on('end', () => {
        if (size > MAX_BODY_BYTES) {
          res
            .writeHead(413, { 'content-type': 'application/json' })
            .end('{"message":"Request Entity Too Large"}');
          return;
        }
        const event = toEvent(req, Buffer.concat(chunks), server);
        const started = Date.now();
        invoke(event).then(
          (result) => {
            writeResult(res, result);
            options.log?.({
              requestId: event.requestContext.requestId,
              method: req.method,
              path: event.rawPath,
              status: res.statusCode,
              ms: Date.now() - started,
            });
          },
          (err: Error) => {
            const [status, message] =
              err instanceof InvocationTimeout
                ? err.limit === 'function'
                  ? // A function that times out is a function error: an HTTP API
                    // answers it like any other, with a bare 500.
                    [500, 'Internal Server Error']
                  : [504, 'Service Unavailable']
                : [502, 'Internal Server Error'];
            options.log?.({
              requestId: event.requestContext.requestId,
              path: event.rawPath,
              status,
              error: err.message.split('\n')[0],
              ms: Date.now() - started,
            });
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ message }));
          },
        );
      });
    },
    options.timeouts,
  );
  const port = await listenOnHost(server, options.port);
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    close: async () => {
      closed = true;
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      for (const runner of runners)
        void runner.ready.then(
          (child) => child.kill(),
          () => undefined,
        );
    },
  };
}

function startRunner(options: LocalHttpApiOptions): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'lambda-runner.cjs'), [], {
      env: {
        PATH: process.env.PATH ?? '',
        NODE_OPTIONS: '--enable-source-maps',
        AWS_REGION: 'us-east-1',
        LAMBDA_BUNDLE: options.bundle,
        // The Lambda runtime provides the AWS SDK v3; here the project's copy does.
        NODE_PATH: path.join(__dirname, '..', 'node_modules'),
        ...options.environment,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    // The function's own logs (JSON lines, no secrets) go to our log sink.
    child.stdout?.on('data', (d: Buffer) => options.log?.({ function: d.toString().trim() }));
    child.stderr?.on('data', (d: Buffer) => options.log?.({ functionError: d.toString().trim() }));
    child.once('message', () => resolve(child));
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`the function process exited with ${code} before it was ready`)),
    );
  });
}

function toEvent(
  req: import('node:http').IncomingMessage,
  body: Buffer,
  server: https.Server,
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'https://127.0.0.1');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || k === 'cookie') continue;
    headers[k] = Array.isArray(v) ? v.join(',') : v;
  }
  const cookies = (req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .filter(Boolean);
  const contentType = String(req.headers['content-type'] ?? '');
  const text = /^(text\/|application\/(json|x-www-form-urlencoded|xml))/.test(contentType);
  const port = (server.address() as AddressInfo).port;
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: url.pathname === '/' ? 'GET /' : 'ANY /{proxy+}',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    cookies: cookies.length > 0 ? cookies : undefined,
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: `127.0.0.1:${port}`,
      domainPrefix: '127',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: String(req.headers['user-agent'] ?? ''),
      },
      requestId,
      routeKey: url.pathname === '/' ? 'GET /' : 'ANY /{proxy+}',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: body.length > 0 ? (text ? body.toString('utf8') : body.toString('base64')) : undefined,
    isBase64Encoded: body.length > 0 && !text,
  } as APIGatewayProxyEventV2;
}

function writeResult(
  res: import('node:http').ServerResponse,
  result: APIGatewayProxyStructuredResultV2,
): void {
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  if (result.cookies && result.cookies.length > 0) headers['set-cookie'] = result.cookies;
  res.writeHead(result.statusCode ?? 200, headers);
  const body = result.body ?? '';
  res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}
