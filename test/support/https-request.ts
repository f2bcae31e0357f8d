import type { IncomingHttpHeaders } from 'node:http';
import * as https from 'node:https';

/** An answer read whole, as text. */
export interface TextAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One HTTPS request to a sandbox server, trusting its CA (`ca`) and nothing looser, on a
 * fresh connection; resolves with the whole answer as text.
 */
export function httpsText(
  url: string,
  options: { ca: string; method?: string; headers?: Record<string, string> },
): Promise<TextAnswer> {
  return new Promise((resolve, reject) => {
    https
      .request(
        url,
        { method: options.method ?? 'GET', headers: options.headers, ca: options.ca, agent: false },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        },
      )
      .on('error', reject)
      .end();
  });
}
