import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { CliError } from './errors';

/** The most the command reads of an answer; a token response is a few kilobytes. */
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** An HTTP answer, its body read as UTF-8 text. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** A POST request to make. */
export interface PostRequest {
  readonly url: URL;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** Extra CA certificates (PEM) to trust on top of Node's own. */
  readonly ca?: string;
  readonly timeoutMs: number;
}

/**
 * Reads the `--ca` file: one or more PEM certificates. Throws a `CliError` (exit 2) saying
 * which file and what is wrong with it.
 */
export function loadCa(file: string): string {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(
      `--ca ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}); give the path of a PEM CA certificate.`,
      2,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new CliError(
      `--ca ${file} is not a PEM certificate (no "-----BEGIN CERTIFICATE-----" line); give the CA's .pem file.`,
      2,
    );
  }
  return pem;
}

/** What to tell the user when a request fails before any answer, by Node's error code. */
function transportMessage(url: URL, error: NodeJS.ErrnoException, timeoutMs: number): string {
  const where = `${url.origin}${url.pathname}`;
  if (error.code === 'ETIMEDOUT') {
    const limit = timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`;
    return `${where} did not answer within ${limit}; try again.`;
  }
  if (error.code === 'ETOOBIG') {
    return `${where} answered with more than 1 MB; check that --endpoint is the app's base URL.`;
  }
  if (
    error.code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    error.code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    error.code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    error.code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'
  ) {
    return `${where}: its TLS certificate is not trusted (${error.code}); for the local sandbox pass --ca <its CA .pem file>.`;
  }
  return `Cannot reach ${where} (${error.code ?? error.message}); check --endpoint and your network, then try again.`;
}

/**
 * POSTs `body` and reads the answer, with Node's own `http`/`https` (so `--ca` can add a
 * CA without touching the process's global trust), no redirects followed, no connection
 * kept open, and a time limit for the whole exchange. Transport failures become a
 * `CliError` naming the URL (never the body, which carries the code and verifier).
 */
export function post(request: PostRequest): Promise<HttpAnswer> {
  const { url, timeoutMs } = request;
  const client = url.protocol === 'https:' ? https : http;
  const options: https.RequestOptions = {
    method: 'POST',
    headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
    agent: false,
  };
  if (request.ca !== undefined) options.ca = [...tls.rootCertificates, request.ca];
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new CliError(transportMessage(url, error, timeoutMs)));
    };
    const req = client.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES)
          fail(Object.assign(new Error('answer too large'), { code: 'ETOOBIG' }));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', fail);
    });
    const timer = setTimeout(
      () => fail(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    req.on('error', fail);
    req.end(request.body);
  });
}
