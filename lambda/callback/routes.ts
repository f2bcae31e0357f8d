import { callbackPath, loginPath } from '../../common/provider-facts';
import { staticAsset } from './assets';
import { API_PATHS, CLI_PATHS } from '../../common/cli-protocol';
import type {
  AppContext,
  FormHandler,
  OpenFormHandler,
  PageHandler,
  SessionGuard,
} from './context';
import type { HttpRequest, HttpResponse } from './http';
import { apiRoutes } from './routes-api';
import { cliRoutes } from './routes-cli';
import { fileRoutes } from './routes-files';
import { signInRoutes } from './routes-sign-in';
import { uploadRoutes } from './routes-uploads';
import { expiresSoon } from './session';
import * as views from './views';

/** The app's routes in one table, and the dispatch that applies the checks every route shares. */

const MAX_BODY_BYTES = 16 * 1024;
/**
 * /upload-complete carries the part list: up to 10,000 `{"partNumber":n,"etag":"\"<md5>\""}`
 * entries, about 100 bytes each once form-encoded, so about 1 MB. Only that route gets more.
 */
const MAX_COMPLETE_BODY_BYTES = 2 * 1024 * 1024;

/**
 * A path pattern (`/`-separated; `:name` matches any one segment, even an empty one) and
 * what answers it. The first route whose pattern matches the path decides; a method it
 * does not take gets 405.
 */
export type Route =
  | {
      /** GET also answers HEAD (the body is dropped later); ANY answers every method. */
      readonly method: 'GET' | 'ANY';
      readonly path: string;
      readonly handle: PageHandler;
    }
  | {
      /** A form post that changes something. */
      readonly method: 'POST';
      readonly path: string;
      /** Larger bodies are refused (413) before anything else. */
      readonly maxBodyBytes: number;
      /** Session and CSRF check, passed before the handler runs. */
      readonly guard: SessionGuard;
      readonly handle: FormHandler;
    }
  | {
      /** A post that proves itself without a session (the CLI's token request). */
      readonly method: 'POST';
      readonly path: string;
      readonly maxBodyBytes: number;
      readonly guard: 'none';
      readonly handle: OpenFormHandler;
    };

/** The route table: fixed pages, per-provider sign-in routes, file and upload routes. */
export function routeTable(ctx: AppContext): Route[] {
  const { responses: r, buttons } = ctx;
  const signIn = signInRoutes(ctx);
  const files = fileRoutes(ctx);
  const uploads = uploadRoutes(ctx);
  const cli = cliRoutes(ctx);
  const api = apiRoutes(ctx);
  const unknownProvider = () =>
    r.page(404, 'Unknown provider', 'There is no such sign-in provider.');
  /** A form post behind its session guard; small bodies unless told. */
  const post = (
    path: string,
    guard: SessionGuard,
    handle: FormHandler,
    maxBodyBytes = MAX_BODY_BYTES,
  ): Route => ({
    method: 'POST',
    path,
    maxBodyBytes,
    guard,
    handle,
  });
  return [
    { method: 'GET', path: '/healthz', handle: () => r.json(200, { status: 'ok' }) },
    { method: 'GET', path: '/', handle: files.home },
    // Browsers ask for it on every site; no icon, and no 404 noise in their consoles.
    {
      method: 'ANY',
      path: '/favicon.ico',
      handle: () => r.respond(204, '', { headers: { 'cache-control': 'public, max-age=86400' } }),
    },
    { method: 'GET', path: '/privacy', handle: () => r.respond(200, views.privacyPage(buttons)) },
    {
      method: 'ANY',
      path: '/static/:name',
      handle: (_req, { name }) => {
        const asset = staticAsset(name);
        if (!asset) return r.notFound();
        return r.respond(200, asset.body, {
          headers: { 'content-type': asset.contentType, 'cache-control': 'public, max-age=300' },
        });
      },
    },
    ...[...ctx.providers.values()].flatMap((provider): Route[] => [
      {
        method: 'GET',
        path: loginPath(provider.name),
        handle: (req) => signIn.login(req, provider),
      },
      {
        method: 'GET',
        path: callbackPath(provider.name),
        handle: (req) => signIn.callback(req, provider),
      },
    ]),
    // A provider that is not configured: 404 whatever the method.
    { method: 'ANY', path: loginPath(':provider'), handle: unknownProvider },
    { method: 'ANY', path: callbackPath(':provider'), handle: unknownProvider },
    { method: 'GET', path: '/download', handle: files.download },
    post('/upload-url', uploads.uploadGuard, uploads.uploadUrl),
    post('/upload-complete', uploads.uploadGuard, uploads.uploadComplete, MAX_COMPLETE_BODY_BYTES),
    post('/upload-abort', uploads.uploadGuard, uploads.uploadAbort),
    post('/delete', files.deleteGuard, files.remove),
    post('/logout', signIn.logoutGuard, signIn.logout),
    { method: 'GET', path: CLI_PATHS.command, handle: cli.command },
    { method: 'GET', path: CLI_PATHS.authorize, handle: cli.authorize },
    post(CLI_PATHS.consent, cli.consentGuard, cli.consent),
    {
      method: 'POST',
      path: CLI_PATHS.token,
      maxBodyBytes: MAX_BODY_BYTES,
      guard: 'none',
      handle: cli.token,
    },
    // client-credentials-opt-in: only where the stage turns client-side credentials on.
    ...(ctx.config.clientCredentials
      ? ([
          { method: 'GET', path: API_PATHS.session, handle: api.session },
          { method: 'GET', path: API_PATHS.credentials, handle: api.credentials },
        ] satisfies Route[])
      : []),
  ];
}

/** The first route whose pattern matches `path`, with the segments its `:name`s matched. */
export function matchRoute(
  routes: readonly Route[],
  path: string,
): { route: Route; params: Record<string, string> } | undefined {
  const segments = path.split('/');
  for (const route of routes) {
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((part, i) => {
      if (!part.startsWith(':')) return part === segments[i];
      params[part.slice(1)] = segments[i];
      return true;
    });
    if (matches) return { route, params };
  }
  return undefined;
}

/**
 * Answers one request from the table: 404 for no route, 405 for a method the route does
 * not take; for a POST the body limit, then its session guard (sign-out-post-csrf, csrf-on-state-changes).
 */
export async function dispatch(
  ctx: AppContext,
  routes: readonly Route[],
  req: HttpRequest,
): Promise<HttpResponse> {
  const { responses: r, sessions } = ctx;
  const found = matchRoute(routes, req.path);
  if (!found) return r.notFound();
  const { route, params } = found;
  if (route.method !== 'POST') {
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (route.method === 'GET' && !get) return r.methodNotAllowed('GET');
    return route.handle(req, params);
  }
  if (req.method !== 'POST') return r.methodNotAllowed('POST');
  if (Buffer.byteLength(req.body) > route.maxBodyBytes)
    return r.page(413, 'Too large', 'The request was too large.');
  const form = new URLSearchParams(req.body);
  if (route.guard === 'none') return route.handle(req, form);
  const session = await sessions.readSession(req);
  if (!session || (!route.guard.allowExpiring && expiresSoon(session, ctx.clock.now())))
    return route.guard.signedOut(req);
  if (!sessions.csrfOk(req, session, form)) return route.guard.forbidden();
  return route.handle(req, form, session);
}
