import escapeHtml from 'escape-html';
import { API_PATHS, CSRF_HEADER } from '../../common/cli-protocol';
import { pageHeaders } from '../../lambda/callback/responses';
import type { LocalRoute } from '../http-api';

/**
 * The sandbox's AWS SDK example, served by the local HTTP API on the app's own origin
 * (the app's session cookie reaches it, and its fetches to /api/* are same-origin): a
 * page and its script (./page.ts, bundled by ./bundle.ts). Not part of the app: it shows
 * what client-side code can do with `app.clientCredentials`.
 */

/** The sandbox-only paths. */
export const SDK_EXAMPLE_PATHS = {
  page: '/sandbox/sdk-example',
  script: '/sandbox/sdk-example.js',
} as const;

/**
 * The app's security headers (no framing, no referrer, no caching, isolation), with a
 * policy for this page: its own script and styles, fetches to the app and to S3 only.
 */
export function sdkExampleHeaders(s3Origin: string): Record<string, string> {
  return {
    'content-security-policy': [
      "default-src 'none'",
      "script-src 'self'",
      `connect-src 'self' ${s3Origin}`,
      "style-src 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
      "form-action 'none'",
    ].join('; '),
    // The sandbox is served over HTTPS only, like the app's stages.
    ...pageHeaders(true),
  };
}

/** The page: static HTML; ./page.ts fills it in. The app's paths are in `data-*` attributes. */
export function sdkExamplePage(): string {
  const attr = (value: string) => `"${escapeHtml(value)}"`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AWS SDK example (sandbox)</title>
<link rel="stylesheet" href="/static/app.css">
<script src=${attr(SDK_EXAMPLE_PATHS.script)} defer></script>
</head>
<body data-session-path=${attr(API_PATHS.session)} data-credentials-path=${attr(API_PATHS.credentials)} data-csrf-header=${attr(CSRF_HEADER)}>
<header><a class="brand" href="/">Files</a> (sandbox)</header>
<main>
<h1>The AWS SDK in the browser</h1>
<p>This sandbox-only page asks the app for your temporary credentials (<code>${escapeHtml(API_PATHS.session)}</code>, then <code>${escapeHtml(API_PATHS.credentials)}</code> with the session's CSRF token) and calls S3 with the AWS SDK for JavaScript.</p>
<p id="status" role="status">Loading...</p>
<p id="signed-out" hidden><a href="/">Sign in</a>, then come back to this page.</p>
<section id="files" hidden>
<p>Bucket <code id="bucket"></code>, your folder <code id="prefix"></code>.</p>
<h2>Your files</h2>
<p id="list-status"></p>
<ul id="list"></ul>
<h2>Upload a text file</h2>
<form id="upload">
<p><label for="name">Name</label> <input id="name" name="name" required maxlength="200" value="hello.txt"></p>
<p><label for="text">Text</label><br><textarea id="text" name="text" rows="4" cols="50">Hello from the AWS SDK in the browser.</textarea></p>
<p><button type="submit">Upload</button></p>
</form>
<p id="upload-result" role="status"></p>
<h2>Someone else's folder</h2>
<p>Your credentials reach your own folder only; S3 refuses everything else.</p>
<p><button id="other" type="button">Try another user's folder</button></p>
<p id="other-result" role="status"></p>
</section>
</main>
</body>
</html>
`;
}

/** Serves the page and its script (GET and HEAD); other paths go on to the function. */
export function sdkExampleRoute(options: { s3Origin: string; script: string }): LocalRoute {
  const headers = sdkExampleHeaders(options.s3Origin);
  const bodies: Record<string, { type: string; body: string }> = {
    [SDK_EXAMPLE_PATHS.page]: { type: 'text/html; charset=utf-8', body: sdkExamplePage() },
    [SDK_EXAMPLE_PATHS.script]: { type: 'text/javascript; charset=utf-8', body: options.script },
  };
  return (req, res) => {
    const pathname = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    if (!Object.hasOwn(bodies, pathname)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('Method Not Allowed\n');
      return true;
    }
    const { type, body } = bodies[pathname];
    res.writeHead(200, {
      ...headers,
      'content-type': type,
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
