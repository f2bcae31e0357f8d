import * as http from 'node:http';
import * as https from 'node:https';

/**
 * HTTP for the dev IdP's clients: a `fetch` that trusts the sandbox CA (and nothing else)
 * and never follows redirects, and a wrapper that explains network failures in terms of
 * the sandbox (not running, wrong CA).
 */

const REQUEST_TIMEOUT_MS = 10_000;

/**
 * A `fetch` over node:https that trusts exactly `ca` (the sandbox CA), so nothing turns
 * TLS verification off. It never follows redirects: 3xx answers are returned as they are
 * (what openid-client asks for with `redirect: 'manual'`, and what a scripted browser needs).
 */
export function fetchTrusting(ca: string | Buffer): typeof fetch {
  const agent = new https.Agent({ ca, keepAlive: false });
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TypeError(`fetchTrusting: unsupported URL scheme ${url.protocol}`);
    }
    const body = request.body === null ? undefined : Buffer.from(await request.arrayBuffer());
    const headers: http.OutgoingHttpHeaders = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body !== undefined) headers['content-length'] = String(body.length);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method: request.method,
          headers,
          ...(url.protocol === 'https:' ? { agent } : {}),
          signal: init?.signal ?? undefined,
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const v of Array.isArray(value) ? value : [value])
                responseHeaders.append(name, v);
            }
            const status = res.statusCode ?? 500;
            const nullBody = [101, 204, 205, 304].includes(status) || request.method === 'HEAD';
            resolve(
              new Response(nullBody ? null : Buffer.concat(chunks), {
                status,
                statusText: res.statusMessage,
                headers: responseHeaders,
              }),
            );
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request to ${url.origin} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  };
}

const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** `fetcher`, with network failures explained in terms of the sandbox. */
export function explained(fetcher: typeof fetch, idpUrl: string): typeof fetch {
  return async (input, init) => {
    try {
      return await fetcher(input, init);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (code === 'ECONNREFUSED') {
        throw new Error(
          `no dev IdP is listening at ${idpUrl} (connection refused): is the sandbox running?`,
        );
      }
      if (CERTIFICATE_ERRORS.has(code)) {
        throw new Error(
          `the server at ${idpUrl} presents a certificate the given CA does not vouch for (${code}): use the CA of the running sandbox`,
        );
      }
      throw new Error(`cannot reach the dev IdP at ${idpUrl}: ${(err as Error).message}`);
    }
  };
}
