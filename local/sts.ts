import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunningServer, TlsOptions } from './contracts';
import { createSandboxServer, listenOnHost, type ServerTimeouts } from './listen';
import { HOST } from './sandbox-config';
import { LocalSts, type AssumeOptions, type Outcome, type StsOutcomeLog } from './sts-assume';
import { errorXml, StsError } from './sts-wire';

/**
 * The sandbox's STS: `AssumeRoleWithWebIdentity` over HTTPS on 127.0.0.1, wire-compatible
 * with the AWS SDKs, the AWS CLI and boto3 (AWS Query protocol, unsigned). This module is
 * its HTTP side (method, path, body limit, parameters from query and form, the log line);
 * `sts-assume.ts` decides each request like AWS STS, on the synthesized template.
 *
 * Never logged: tokens, credentials, session policies. Logged: action, role, provider,
 * outcome, error code, request id.
 */

/**
 * One line of the STS's log. A type alias, not an interface, so a generic
 * `(entry: Record<string, unknown>) => void` logger accepts it.
 */
export type StsLogEntry = StsOutcomeLog & {
  readonly requestId: string;
  readonly status: number;
  readonly durationMs: number;
};

export interface LocalStsOptions extends AssumeOptions {
  /** The port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  readonly tls: TlsOptions;
  /** @default - no logging */
  readonly log?: (entry: StsLogEntry) => void;
  /** @default DEFAULT_TIMEOUTS */
  readonly timeouts?: ServerTimeouts;
}

/** Bigger than any valid request (token 20,000 + policy 2,048 + 10 ARNs, URL-encoded x3). */
const MAX_BODY_BYTES = 256 * 1024;

/** Reads a request body up to `limit` bytes; undefined when it is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string, requestId: string): void {
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(body),
    // The SDKs take the request id only from this header.
    'x-amzn-requestid': requestId,
    // The body may hold credentials.
    'cache-control': 'no-store',
  });
  res.end(body);
}

/** Starts the local STS on https://127.0.0.1:<port>. */
export async function startLocalSts(options: LocalStsOptions): Promise<RunningServer> {
  const sts = new LocalSts(options);
  const log = options.log ?? (() => undefined);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    const requestId = randomUUID();
    const finish = (outcome: Outcome) => {
      send(res, outcome.status, outcome.body, requestId);
      try {
        log({
          requestId,
          status: outcome.status,
          durationMs: Date.now() - started,
          ...outcome.log,
        });
      } catch {
        // A failing logger must not fail the request that was already answered.
      }
    };
    const refuse = (error: StsError) =>
      finish({
        status: error.status,
        body: errorXml(error, requestId),
        log: { action: '-', outcome: 'refused', code: error.code },
      });
    try {
      const url = new URL(req.url ?? '/', `https://${HOST}`);
      if (req.method !== 'GET' && req.method !== 'POST') {
        return refuse(
          new StsError('MethodNotAllowed', 405, `${req.method} is not supported; use POST /`),
        );
      }
      if (url.pathname !== '/') {
        return refuse(
          new StsError('NotFound', 404, `No STS endpoint at ${url.pathname}; use POST /`),
        );
      }
      const body = await readBody(req, MAX_BODY_BYTES);
      if (body === undefined) {
        return refuse(new StsError('RequestEntityTooLarge', 413, 'The request body is too large'));
      }
      // AWS Query takes parameters from the query string and from a form body.
      const params = new URLSearchParams(url.search);
      const form = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
      if (req.method === 'POST' && form) {
        for (const [k, v] of new URLSearchParams(body)) params.set(k, v);
      }
      finish(await sts.answer(params, requestId));
    } catch (e) {
      if (res.headersSent) return;
      finish({
        status: 500,
        body: errorXml(
          new StsError('InternalFailure', 500, 'The local STS failed; see its log', 'Receiver'),
          requestId,
        ),
        log: {
          action: '-',
          outcome: 'failed',
          code: 'InternalFailure',
          detail: String((e as Error)?.message),
        },
      });
    }
  };

  const server = createSandboxServer(
    options.tls,
    (req, res) => {
      void handle(req, res);
    },
    options.timeouts,
  );
  const port = await listenOnHost(server, options.port);
  let closing: Promise<void> | undefined;
  return {
    url: `https://${HOST}:${port}`,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients keep connections alive; without this, close waits for their timeout.
        server.closeAllConnections();
      })),
  };
}
