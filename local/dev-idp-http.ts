import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * HTTP plumbing shared by the dev IdP's own routes: reading a form body (size and type
 * checked), the error that carries a status, and the JSON, redirect and 405 answers.
 */

const MAX_FORM_BYTES = 16 * 1024;

/** An error with the HTTP status to answer (the message is safe to show). */
export class HttpError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk);
  }
  if (type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, 'expected application/x-www-form-urlencoded');
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** `uri` with `params` set in its query. */
export function withParams(uri: string, params: Record<string, string>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'cache-control': 'no-store', 'content-length': 0 });
  res.end();
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function methodNotAllowed(res: ServerResponse, allow: string): true {
  res.writeHead(405, { allow, 'content-length': 0 });
  res.end();
  return true;
}
