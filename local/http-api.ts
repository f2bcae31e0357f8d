import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type * as https from 'node:https';
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
  /** API Gateway's integration timeout. */
  readonly timeoutMs?: number;
  readonly log?: (entry: Record<string, unknown>) => void;
  /** @default DEFAULT_TIMEOUTS */
  readonly timeouts?: ServerTimeouts;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway's payload limit

export async function startLocalHttpApi(options: LocalHttpApiOptions): Promise<RunningServer> {
  const child = await startRunner(options);
  const pending = new Map<
    string,
    { resolve: (r: APIGatewayProxyStructuredResultV2) => void; reject: (e: Error) => void }
  >();
  child.on(
    'message',
    (m: { id?: string; result?: APIGatewayProxyStructuredResultV2; error?: string }) => {
      const p = m.id ? pending.get(m.id) : undefined;
      if (!p) return;
      pending.delete(m.id!);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result ?? {});
    },
  );
  child.on('exit', () => {
    for (const p of pending.values()) p.reject(new Error('the function process exited'));
    pending.clear();
  });
  const invoke = (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> =>
    new Promise((resolve, reject) => {
      const id = event.requestContext.requestId;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(Object.assign(new Error('integration timeout'), { timeout: true }));
      }, options.timeoutMs ?? 29_000);
      pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ id, event });
    });

  const server = createSandboxServer(
    options.tls,
    (req, res) => {
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
          (err: Error & { timeout?: boolean }) => {
            const status = err.timeout ? 504 : 502;
            options.log?.({
              requestId: event.requestContext.requestId,
              path: event.rawPath,
              status,
              error: err.message.split('\n')[0],
            });
            res.writeHead(status, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({
                message: err.timeout ? 'Service Unavailable' : 'Internal Server Error',
              }),
            );
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
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections?.();
      child.kill();
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
