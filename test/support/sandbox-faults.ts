/**
 * Fault injection for a sandbox started in this process, from outside the sandbox's code:
 * the servers it started are found by their ports, requests to them are answered with a
 * chosen failure before the real handler sees them, a port can be taken over by a server
 * that never answers, and the Lambda runner is found (and killed) by its pid.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { listenOnHost } from '../../local/listen';
import { HOST } from '../../local/sandbox-config';
import { ScriptedBrowser } from '../../local/scripted-browser';

/**
 * Runs `start` and returns what it resolved to, with every server that began listening
 * meanwhile, by port. startSandbox hands out only the dev IdP's server; the others are
 * reached this way (a wrapper around `net.Server.prototype.listen` while `start` runs).
 */
export async function withListeningServers<T>(
  start: () => Promise<T>,
): Promise<{ result: T; servers: Map<number, net.Server> }> {
  const seen = new Set<net.Server>();
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    seen.add(this);
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
  try {
    const result = await start();
    const servers = new Map<number, net.Server>();
    for (const s of seen) {
      const address = s.address();
      if (address && typeof address === 'object') servers.set(address.port, s);
    }
    return { result, servers };
  } finally {
    net.Server.prototype.listen = listen;
  }
}

/** Stops a server now: no new connections, open ones cut (keep-alive clients included). */
export function closeNow(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    (server as http.Server).closeAllConnections?.();
  });
}

/** Answers a request itself (true) or lets the real handler have it (false). */
export type Fault = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/**
 * Sits in front of an HTTP(S) server's own request handler: every request goes through the
 * current fault first. Counts what it saw, so a test can show how often a client retried.
 */
export class RequestTap {
  private fault: Fault | undefined;
  private readonly originals: ((...args: unknown[]) => void)[];
  /** Requests seen since the last `inject`, and how many of them the fault answered. */
  seen = 0;
  failed = 0;

  constructor(private readonly server: http.Server) {
    this.originals = server.listeners('request') as ((...args: unknown[]) => void)[];
    server.removeAllListeners('request');
    server.on('request', this.listener);
  }

  private readonly listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    this.seen++;
    if (this.fault?.(req, res)) {
      this.failed++;
      return;
    }
    for (const original of this.originals) original.call(this.server, req, res);
  };

  inject(fault: Fault | undefined): void {
    this.fault = fault;
    this.seen = 0;
    this.failed = 0;
  }

  /** Gives the server its own handler back. */
  remove(): void {
    this.server.removeListener('request', this.listener);
    for (const original of this.originals) this.server.on('request', original);
  }
}

/** The fault for the first `n` requests `matches` accepts; later ones pass. */
export function firstRequests(
  n: number,
  fault: Fault,
  matches: (req: http.IncomingMessage) => boolean = () => true,
): Fault {
  let left = n;
  return (req, res) => {
    if (left <= 0 || !matches(req)) return false;
    left--;
    return fault(req, res);
  };
}

function answer(res: http.ServerResponse, status: number, type: string, body: string): true {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'x-amzn-requestid': randomUUID(),
  });
  res.end(body);
  return true;
}

/** STS's answer when the account's request rate is exceeded (query protocol, HTTP 400). */
export const stsThrottling: Fault = (_req, res) =>
  answer(
    res,
    400,
    'text/xml',
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>' +
      `<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  );

/** An S3 error document, e.g. `s3Error(503, 'SlowDown')` or `s3Error(500, 'InternalError')`. */
export function s3Error(status: number, code: string): Fault {
  return (_req, res) =>
    answer(
      res,
      status,
      'application/xml',
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected ${code}</Message>` +
        `<RequestId>${randomUUID()}</RequestId></Error>`,
    );
}

/**
 * Holds requests unanswered until `release()` (then they fail with a reset), so a test can
 * act while a call is in flight; `arrived` resolves at the first one.
 */
export function holdRequests(): { fault: Fault; arrived: Promise<void>; release(): void } {
  const held: http.ServerResponse[] = [];
  let signal!: () => void;
  const arrived = new Promise<void>((r) => (signal = r));
  return {
    fault: (_req, res) => {
      held.push(res);
      signal();
      return true;
    },
    arrived,
    release: () => held.splice(0).forEach((res) => res.destroy()),
  };
}

/**
 * Lets requests through to the real handler but keeps its answers back until `release()`,
 * so a test can act after the server has done the work and before the client hears of it;
 * `arrived` resolves when the first answer is ready (the handler began to write it).
 */
export function holdAnswers(): { fault: Fault; arrived: Promise<void>; release(): void } {
  const queued: (() => void)[] = [];
  let holding = true;
  let signal!: () => void;
  const arrived = new Promise<void>((r) => (signal = r));
  return {
    fault: (_req, res) => {
      for (const method of ['writeHead', 'write', 'end'] as const) {
        const original = (res[method] as (...a: unknown[]) => unknown).bind(res);
        (res as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
          if (!holding) return original(...args);
          queued.push(() => original(...args));
          signal();
          return method === 'writeHead' ? res : true;
        };
      }
      return false;
    },
    arrived,
    release: () => {
      holding = false;
      queued.splice(0).forEach((write) => write());
    },
  };
}

/**
 * The directory where the local S3's s3rver keeps the parts of multipart upload `uploadId`
 * (one file per part number), found under the sandbox's S3 data dir; undefined if none.
 */
export function multipartUploadDir(s3DataDir: string, uploadId: string): string | undefined {
  for (const entry of fs.readdirSync(s3DataDir, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory() && entry.name === uploadId)
      return path.join(entry.parentPath, entry.name);
  }
  return undefined;
}

/** A server on `port` that accepts connections and never says a word (not even TLS). */
export async function silentTcpServer(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  await listenOnHost(server, port);
  return {
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTPS server on `port` that completes TLS, reads each request and never answers. */
export async function silentHttpsServer(
  port: number,
  tls: { cert: string; key: string },
): Promise<{ close(): Promise<void>; requests(): number }> {
  let requests = 0;
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req) => {
    requests++;
    req.resume();
  });
  await listenOnHost(server, port);
  return { close: () => closeNow(server), requests: () => requests };
}

/** A free port on the sandbox's host (bound, then released again: fine for a test on one machine). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  const port = await listenOnHost(probe, 0);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** The pids of this process's children whose command line contains `needle` (Linux /proc). */
export function childPids(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle))
        pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return pids;
}

/**
 * A scripted browser that can stop just before the app's sign-in callback: with `parked`,
 * the request to `/oauth2callback/...` is not sent and `go` ends there (status 0), so the
 * test can break something and then deliver the callback itself.
 */
export class ParkingBrowser extends ScriptedBrowser {
  parked = true;

  override async request(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; headers: Headers; body: string }> {
    if (this.parked && new URL(url).pathname.startsWith('/oauth2callback/'))
      return { status: 0, headers: new Headers(), body: '' };
    return super.request(url, init);
  }
}

/**
 * A stand-in for Secrets Manager's GetSecretValue (JSON 1.1 protocol) over HTTPS: serves
 * `secrets`, or answers the next `count` calls (all, by default) with `failure`.
 */
export async function fakeSecretsManager(
  secrets: Readonly<Record<string, string>>,
  tls: { cert: string; key: string },
): Promise<{
  url: string;
  calls(): number;
  fail(failure: { status: number; type: string } | undefined, count?: number): void;
  close(): Promise<void>;
}> {
  let calls = 0;
  let failure: { status: number; type: string } | undefined;
  let failures = 0;
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls++;
      const json = (status: number, body: unknown, type?: string) => {
        res.writeHead(status, {
          'content-type': 'application/x-amz-json-1.1',
          'x-amzn-requestid': randomUUID(),
          ...(type ? { 'x-amzn-errortype': type } : {}),
        });
        res.end(JSON.stringify(body));
      };
      if (failure && failures > 0) {
        failures--;
        json(failure.status, { __type: failure.type, message: 'injected failure' }, failure.type);
        return;
      }
      const id = String(
        (JSON.parse(Buffer.concat(chunks).toString() || '{}') as { SecretId?: string }).SecretId,
      );
      if (req.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue' || !(id in secrets)) {
        json(
          400,
          { __type: 'ResourceNotFoundException', message: 'no such secret' },
          'ResourceNotFoundException',
        );
        return;
      }
      json(200, {
        ARN: `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}-AbCdEf`,
        Name: id,
        SecretString: secrets[id],
        VersionId: randomUUID(),
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Date.now() / 1000,
      });
    });
  });
  const port = await listenOnHost(server, 0);
  return {
    url: `https://${HOST}:${port}`,
    calls: () => calls,
    fail: (f, count = Infinity) => {
      failure = f;
      failures = count;
    },
    close: () => closeNow(server),
  };
}
