import type * as http from 'node:http';

/** What the smoke checks saw of one HTTP answer, and what they report; shared by smoke-lib.ts and smoke-cli.ts. */

export interface HttpResult {
  /** 0 when the request failed; `error` says why. */
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly setCookies: readonly string[];
  readonly body: string;
  readonly error?: string;
}

/** One response header as a string (several values joined with `, `). */
export function header(res: HttpResult, name: string): string | undefined {
  const value = res.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

export interface Check {
  /** What is expected, stable across runs: tests and readers look checks up by it. */
  readonly name: string;
  readonly ok: boolean;
  /** What the endpoint showed; never a cookie value or anything secret. */
  readonly seen: string;
}
