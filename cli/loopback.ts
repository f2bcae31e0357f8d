import { createHash, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  LOOPBACK_CALLBACK_PATH,
  LOOPBACK_HOST,
  loopbackRedirectUri,
  parseLoopbackPort,
} from '../common/cli-protocol';
import { CliError } from './errors';

/**
 * True for what can be one of the app's sign-in codes: base64url and dots (unreserved URL
 * characters), at most 8 KB (the app's are about 4 KB).
 */
export const isWellFormedCode = (code: string): boolean =>
  code.length <= 8192 && /^[A-Za-z0-9._~-]+$/.test(code);

/** The command's one-shot HTTP server on 127.0.0.1 that the browser is redirected to. */
export interface LoopbackReceiver {
  readonly port: number;
  /** `http://127.0.0.1:<port>/callback`, the `redirect_uri` of the token request. */
  readonly redirectUri: string;
  /**
   * Resolves with the code of the first callback that carries the right `state`; rejects on
   * an `error=` callback with the right state, or after `timeoutMs`. Closes the server.
   */
  waitForCode(timeoutMs: number): Promise<string>;
  /** Stops listening and drops open connections (also after `waitForCode` settles). */
  close(): void;
}

/** Compares `state` values in constant time (hashes first, so lengths may differ). */
export function sameState(received: string | null, expected: string): boolean {
  if (received === null) return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(received), digest(expected));
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Answers with a small self-contained page; nothing is cached, referred or framed. */
function page(res: http.ServerResponse, status: number, title: string, text: string): void {
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></body></html>\n`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    connection: 'close',
  });
  res.end(body);
}

/** A value the browser sent, made safe to show in one terminal line. */
const printable = (value: string): string => value.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 200);

/** What the command says when the browser does not come back within `timeoutMs`. */
export function loopbackTimeoutMessage(timeoutMs: number): string {
  const minutes = Math.round(timeoutMs / 60_000);
  const after = minutes >= 1 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${timeoutMs} ms`;
  return `No sign-in came back within ${after}. Run the command again and finish signing in in the browser (or open the printed URL by hand).`;
}

/**
 * Starts the loopback receiver for one sign-in, listening on 127.0.0.1 on a port the
 * system picks. Only `GET /callback` is answered (anything else: 404). A callback whose
 * `state` is missing or wrong gets a 400 page and the receiver keeps waiting: it may be
 * another web page probing the port, and must not end or hijack this sign-in
 * (cli-state-checked).
 */
export async function startLoopback(state: string): Promise<LoopbackReceiver> {
  let settle: (error: Error | undefined, code?: string) => void = () => undefined;
  const outcome = new Promise<string>((resolve, reject) => {
    let done = false;
    settle = (error, code) => {
      if (done) return;
      done = true;
      if (error) reject(error);
      else resolve(code as string);
    };
  });
  outcome.catch(() => undefined);
  let finished = false;
  let port = 0;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${LOOPBACK_HOST}`);
    if (req.method !== 'GET' || url.pathname !== LOOPBACK_CALLBACK_PATH) {
      return page(res, 404, 'Not found', 'This address only receives a sign-in.');
    }
    // A DNS-rebound name reaching this port carries another Host.
    if (req.headers.host !== `${LOOPBACK_HOST}:${port}`) {
      return page(res, 400, 'Wrong address', `Use http://${LOOPBACK_HOST}:${port}.`);
    }
    if (finished) {
      return page(res, 400, 'Already done', 'This sign-in is finished; return to the terminal.');
    }
    const params = url.searchParams;
    if (['state', 'code', 'error'].some((name) => params.getAll(name).length > 1)) {
      return page(res, 400, 'Bad request', 'A parameter is given twice.');
    }
    if (!sameState(params.get('state'), state)) {
      return page(
        res,
        400,
        'Not this sign-in',
        'This response does not belong to the sign-in the command is waiting for (state does not match). Use the URL the command printed.',
      );
    }
    const code = params.get('code');
    const error = params.get('error');
    if ((code === null) === (error === null)) {
      return page(res, 400, 'Bad request', 'Expected either a code or an error.');
    }
    if (error !== null) {
      finished = true;
      page(res, 200, 'Sign-in not completed', 'You can close this tab; the command has stopped.');
      const description = params.get('error_description');
      const reason =
        error === 'access_denied'
          ? 'access was denied (Deny on the consent page, or the sign-in was cancelled)'
          : `the app answered "${printable(error)}"${description ? `: ${printable(description)}` : ''}`;
      const failure = new CliError(
        `Sign-in did not complete: ${reason}. Run the command again to retry.`,
      );
      res.on('close', () => settle(failure));
      return;
    }
    if (!isWellFormedCode(code as string)) {
      return page(res, 400, 'Bad request', 'The code is malformed.');
    }
    finished = true;
    page(res, 200, 'Signed in', 'Signed in. You can close this tab and return to the terminal.');
    res.on('close', () => settle(undefined, code as string));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const close = () => {
    server.close();
    server.closeAllConnections();
  };
  if (parseLoopbackPort(String(port)) === undefined) {
    close();
    throw new CliError(
      `The system gave the loopback server port ${port}, which the app refuses; try again.`,
    );
  }

  return {
    port,
    redirectUri: loopbackRedirectUri(port),
    close,
    async waitForCode(timeoutMs) {
      const timer = setTimeout(
        () => settle(new CliError(loopbackTimeoutMessage(timeoutMs))),
        timeoutMs,
      );
      try {
        return await outcome;
      } finally {
        clearTimeout(timer);
        close();
      }
    },
  };
}
