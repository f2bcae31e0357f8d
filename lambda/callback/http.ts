import { parse } from 'cookie';

/** The plain request and response the core works with (no API Gateway types). */

export interface HttpRequest {
  readonly method: string;
  /** Decoded path, e.g. `/oauth2callback/google`. */
  readonly path: string;
  /** The raw query string without `?`. */
  readonly rawQuery: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly cookies: Readonly<Record<string, string>>;
  /** Decoded body text. */
  readonly body: string;
  /** For logs. */
  readonly requestId: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** Serialized Set-Cookie values. */
  cookies: string[];
  body: string;
}

/** Parses `a=1; b=2` cookie headers or API Gateway's `cookies` array; first value of a name wins. */
export function parseCookies(values: readonly string[] | undefined): Record<string, string> {
  const cookies = new Map<string, string>();
  for (const header of values ?? []) {
    for (const [name, value] of Object.entries(parse(header))) {
      if (value !== undefined && !cookies.has(name)) cookies.set(name, value);
    }
  }
  // A Map: `name in {}` is true for inherited names (`constructor`, `__proto__`) and would
  // drop those cookies; fromEntries makes own properties even for them.
  return Object.fromEntries(cookies);
}
